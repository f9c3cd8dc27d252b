{{- define "reranker-lb.fullname" -}}
{{- if .Values.fullnameOverride -}}{{ .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given (pinned images). */}}
{{- define "reranker-lb.image" -}}
{{- if .image.digest -}}{{ printf "%s@%s" .image.repository .image.digest | quote }}{{- else -}}{{ printf "%s:%s" .image.repository (default .chart.AppVersion .image.tag) | quote }}{{- end -}}
{{- end -}}

{{- define "reranker-lb.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "reranker-lb.operatorSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "reranker-lb.serviceAccountName" -}}
{{- if .Values.serviceAccount.name -}}{{ .Values.serviceAccount.name }}{{- else -}}{{ include "reranker-lb.fullname" . }}-operator{{- end -}}
{{- end -}}

{{/* The namespaces the operator serves: the listed ones, else the release namespace. */}}
{{- define "reranker-lb.namespaces" -}}
{{- if .Values.operator.namespaces -}}{{ join "," .Values.operator.namespaces }}{{- else -}}{{ .Release.Namespace }}{{- end -}}
{{- end -}}

{{/* Hardened defaults for every pod and container of the chart (values podSecurityContext / securityContext override). */}}
{{- define "reranker-lb.podSecurityContext" -}}
{{- if .Values.podSecurityContext -}}{{ toYaml .Values.podSecurityContext }}{{- else -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- end -}}

{{- define "reranker-lb.containerSecurityContext" -}}
{{- if .Values.securityContext -}}{{ toYaml .Values.securityContext }}{{- else -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}
{{- end -}}

{{/* The operator's rules, shared by its Roles (or, with allNamespaces, its ClusterRole). */}}
{{- define "reranker-lb.operatorRules" -}}
# Read the pools it serves.
- apiGroups: ["reranker.dev"]
  resources: ["rerankerpools"]
  verbs: ["get", "list", "watch"]
# Write each pool's status (conditions, counts, config hash).
- apiGroups: ["reranker.dev"]
  resources: ["rerankerpools/status"]
  verbs: ["get", "patch", "update"]
# Render <pool>-reranker-config by server-side apply (create + patch); watch it to repair edits.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Discover backend endpoints, and notice when a referenced Service is missing.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
# Find the sidecar pods (label reranker.dev/sidecar) to ask which config they serve.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Record events on pools: create one per (pool, reason), patch its count when it repeats.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.injection.enabled }}
# Sidecar injection: per pool, a Role reading only <pool>-reranker-config and listing/watching the
# namespace's EndpointSlices (discoveryMode sidecar), and a RoleBinding to the injected pods'
# service accounts (server-side apply: create + patch; owned by the pool, so the garbage collector
# deletes them, never the operator). No escalate/bind: the operator itself holds the ConfigMap
# and EndpointSlice rights it grants.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "create", "patch"]
{{- end }}
{{- end -}}
