/**
 * Copy-paste code for the three ways attendees call the API: curl (Invoke-RestMethod in
 * PowerShell), Python (openai SDK) and TypeScript (openai npm). The key goes into an environment
 * variable, so a snippet pasted into a chat or a slide never carries it. Each runs as shown: the
 * TypeScript one uses top-level `await`, which needs an ES module, so it names a `.mts` file (a
 * `.ts` file in a folder made by `npm init` is CommonJS, where top-level `await` is an error).
 */

export type SnippetLanguage = "curl" | "python" | "typescript";
export type Shell = "posix" | "powershell";

export interface SnippetLanguageInfo {
  id: SnippetLanguage;
  label: string;
  install?: string;
  /** The file to save the code in, and the command that runs it. */
  file?: string;
  run?: string;
}

export const SNIPPET_LANGUAGES: SnippetLanguageInfo[] = [
  { id: "curl", label: "curl" },
  { id: "python", label: "Python", install: "pip install openai", file: "hello.py", run: "python hello.py" },
  { id: "typescript", label: "TypeScript", install: "npm install openai", file: "hello.mts", run: "npx tsx hello.mts" },
];

/** The command-line way to call a model in each shell: curl, or PowerShell's own Invoke-RestMethod. */
export const SHELL_CALL_LABEL: Record<Shell, string> = { posix: "curl", powershell: "PowerShell" };

export const KEY_ENV_VAR = "OPENROUTER_API_KEY";
const PROMPT = "Say hello to the workshop in one sentence.";

export function envSnippet(key: string, shell: Shell): string {
  return shell === "posix" ? `export ${KEY_ENV_VAR}="${key}"` : `$env:${KEY_ENV_VAR} = "${key}"`;
}

export function codeSnippet(language: SnippetLanguage, baseUrl: string, model: string, shell: Shell = "posix"): string {
  const base = baseUrl.replace(/\/+$/, "");
  switch (language) {
    case "curl":
      // curl in Windows PowerShell is Invoke-WebRequest, and its quoting differs: PowerShell's own call instead.
      if (shell === "powershell") {
        return [
          "$body = @{",
          `  model = "${model}"`,
          `  messages = @(@{ role = "user"; content = "${PROMPT}" })`,
          "} | ConvertTo-Json -Depth 5",
          `$reply = Invoke-RestMethod -Method Post -Uri "${base}/chat/completions" \``,
          `  -Headers @{ Authorization = "Bearer $env:${KEY_ENV_VAR}" } \``,
          '  -ContentType "application/json" -Body $body',
          "$reply.choices[0].message.content",
        ].join("\n");
      }
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
