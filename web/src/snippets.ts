/**
 * Copy-paste code for the three ways attendees call the API: curl, Python (openai SDK) and
 * TypeScript (openai npm). The key goes into an environment variable, so a snippet pasted into a
 * chat or a slide never carries it.
 */

export type SnippetLanguage = "curl" | "python" | "typescript";

export const SNIPPET_LANGUAGES: { id: SnippetLanguage; label: string; install?: string }[] = [
  { id: "curl", label: "curl" },
  { id: "python", label: "Python", install: "pip install openai" },
  { id: "typescript", label: "TypeScript", install: "npm install openai" },
];

export const KEY_ENV_VAR = "OPENROUTER_API_KEY";
const PROMPT = "Say hello to the workshop in one sentence.";

export function envSnippet(key: string, shell: "posix" | "powershell"): string {
  return shell === "posix" ? `export ${KEY_ENV_VAR}="${key}"` : `$env:${KEY_ENV_VAR} = "${key}"`;
}

export function codeSnippet(language: SnippetLanguage, baseUrl: string, model: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  switch (language) {
    case "curl":
      return [
        `curl ${base}/chat/completions \\`,
        `  -H "Authorization: Bearer $${KEY_ENV_VAR}" \\`,
        `  -H "Content-Type: application/json" \\`,
        `  -d '{"model": "${model}", "messages": [{"role": "user", "content": "${PROMPT}"}]}'`,
      ].join("\n");
    case "python":
      return [
        "import os",
        "from openai import OpenAI",
        "",
        "client = OpenAI(",
        `    base_url="${base}",`,
        `    api_key=os.environ["${KEY_ENV_VAR}"],`,
        ")",
        "reply = client.chat.completions.create(",
        `    model="${model}",`,
        `    messages=[{"role": "user", "content": "${PROMPT}"}],`,
        ")",
        "print(reply.choices[0].message.content)",
      ].join("\n");
    case "typescript":
      return [
        'import OpenAI from "openai";',
        "",
        "const client = new OpenAI({",
        `  baseURL: "${base}",`,
        `  apiKey: process.env.${KEY_ENV_VAR},`,
        "});",
        "const reply = await client.chat.completions.create({",
        `  model: "${model}",`,
        `  messages: [{ role: "user", content: "${PROMPT}" }],`,
        "});",
        "console.log(reply.choices[0].message.content);",
      ].join("\n");
  }
}
