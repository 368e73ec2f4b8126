/**
 * The broker's built-in session templates (reference section 10.6): form fields or an OAuth
 * provider with scopes, looked up by the session's `template` id.
 *
 * @example
 * ```ts
 * import { TEMPLATES } from "./templates.ts";
 * TEMPLATES.api_key.fields[0].name; // "api_key"
 * ```
 * @module
 */

/** A form field as the connect page renders it (`{name,label,type,required,options}`). */
export interface FieldSpec {
  name: string;
  label: string;
  type: string;
  required: boolean;
  options: string[] | null;
}

/** A built-in template. */
export interface Template {
  displayName: string;
  fields: FieldSpec[];
  /** OAuth built-ins: provider id and scopes. */
  oauth?: { provider: string; scopes: string[] };
}

const field = (name: string, label: string, type: string, required = true): FieldSpec => ({
  name,
  label,
  type,
  required,
  options: null,
});

/** The built-in templates (reference section 10.6). */
export const TEMPLATES: Record<string, Template> = {
  api_key: { displayName: "API Key", fields: [field("api_key", "API Key", "password")] },
  basic_auth: {
    displayName: "Login Credentials",
    fields: [field("username", "Username", "text"), field("password", "Password", "password")],
  },
  aws: {
    displayName: "AWS Credentials",
    fields: [
      field("access_key_id", "Access Key ID", "text"),
      field("secret_access_key", "Secret Access Key", "password"),
      field("region", "Region", "text", false),
    ],
  },
  openai: { displayName: "OpenAI", fields: [field("api_key", "OpenAI API Key", "password")] },
  anthropic: {
    displayName: "Anthropic",
    fields: [field("api_key", "Anthropic API Key", "password")],
  },
  google_mail: {
    displayName: "Google Mail",
    fields: [],
    oauth: { provider: "google", scopes: ["https://www.googleapis.com/auth/gmail.readonly"] },
  },
  google_drive: {
    displayName: "Google Drive",
    fields: [],
    oauth: { provider: "google", scopes: ["https://www.googleapis.com/auth/drive.readonly"] },
  },
  microsoft_mail: {
    displayName: "Microsoft Mail",
    fields: [],
    oauth: { provider: "microsoft", scopes: ["https://graph.microsoft.com/Mail.Read"] },
  },
  github: {
    displayName: "GitHub",
    fields: [],
    oauth: { provider: "github", scopes: ["read:user", "repo"] },
  },
  slack: {
    displayName: "Slack",
    fields: [],
    oauth: { provider: "slack", scopes: ["chat:write", "channels:read"] },
  },
};
