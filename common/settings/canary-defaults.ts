/**
 * The default canary: one query and documents of graded relevance, so that any reasonable
 * reranker orders most of them the same way and a different model or revision shows up as a
 * different order. Operators with a domain model should set their own (`router_settings.canary`).
 */
export const DEFAULT_CANARY_QUERY = 'how do I reset a forgotten account password';

export const DEFAULT_CANARY_DOCUMENTS: readonly string[] = [
  'To reset a forgotten password, open the sign-in page, choose "Forgot password" and follow the link we email to your account address.',
  'Password reset links expire after one hour; request a new reset email if yours has expired.',
  'You can change your account password at any time under Settings, Security, once you are signed in.',
  'Two-factor authentication adds a code from your phone to your password when you sign in to your account.',
  'Our support team can help if you no longer have access to the email address on your account.',
  'Invoices for your account are available as PDF files under Billing.',
  'The mobile app supports dark mode and can be downloaded from both app stores.',
  'Our offices are closed on public holidays; the status page lists planned maintenance.',
  'Bananas are a good source of potassium and are eaten all over the world.',
  'The Eiffel Tower was completed in 1889 for the World Fair in Paris.',
];
