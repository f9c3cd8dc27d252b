{{/* Sidecar injection: names shared by the webhook templates and the operator's environment. */}}
{{- define "reranker-lb.webhookName" -}}{{ include "reranker-lb.fullname" . }}-sidecar-injector{{- end -}}
{{- define "reranker-lb.webhookService" -}}{{ include "reranker-lb.fullname" . }}-webhook{{- end -}}
{{- define "reranker-lb.webhookSecret" -}}{{ include "reranker-lb.fullname" . }}-webhook-tls{{- end -}}

{{/* The operator's injection settings (docs/operator.md "Inject the sidecar"), included in its env list when injection is enabled. */}}
{{- define "reranker-lb.injectionEnv" -}}
- name: INJECTION_ENABLED
  value: "true"
- name: SIDECAR_IMAGE
  value: {{ include "reranker-lb.image" (dict "image" .Values.injection.sidecar.image "chart" .Chart) }}
- name: SIDECAR_IMAGE_PULL_POLICY
  value: {{ .Values.injection.sidecar.image.pullPolicy | quote }}
- name: SIDECAR_LOG_LEVEL
  value: {{ .Values.injection.sidecar.logLevel | quote }}
- name: SIDECAR_RESOURCES
  value: {{ toJson .Values.injection.sidecar.resources | quote }}
- name: WEBHOOK_PORT
  value: {{ .Values.injection.port | quote }}
- name: WEBHOOK_CONFIG_NAME
  value: {{ include "reranker-lb.webhookName" . | quote }}
- name: WEBHOOK_SERVICE
  value: "{{ include "reranker-lb.webhookService" . }}.{{ .Release.Namespace }}"
{{- with .Values.injection.url }}
- name: WEBHOOK_URL
  value: {{ . | quote }}
{{- end }}
- name: WEBHOOK_CERT_MODE
  value: {{ ternary "cert-manager" "self" .Values.certManager.enabled | quote }}
- name: WEBHOOK_CERT_SECRET
  value: {{ include "reranker-lb.webhookSecret" . | quote }}
- name: WEBHOOK_CERT_CHECK_SECONDS
  value: {{ .Values.injection.certCheckSeconds | quote }}
{{- end -}}
