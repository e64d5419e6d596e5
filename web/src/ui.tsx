import type { ComponentChildren, RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { takeHeadingFocus } from "./router.js";

/** Small building blocks shared by every page. */

/** Sets the tab title and moves focus to the page heading, so screen readers announce the page. */
export function PageTitle({ title, children }: { title: string; children?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Workshop keys`;
    // Only after an in-app navigation (a claim that leads to the key page, a link): on first load the
    // browser's own focus order is right. The element that had focus is gone by now, so the router
    // says whether one happened.
    if (takeHeadingFocus() || (document.activeElement && document.activeElement !== document.body)) ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children ?? title}
    </h1>
  );
}

export function Notice({ tone = "info", title, children }: { tone?: "info" | "warn" | "error" | "ok"; title?: string; children?: ComponentChildren }) {
  return (
    <div class={`notice notice-${tone}`} role={tone === "error" ? "alert" : "status"}>
      {title && <p class="notice-title">{title}</p>}
      {children}
    </div>
  );
}

export function Meter({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div class="meter" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value}>
      <div class="meter-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** Copies text and says so; falls back to selecting the text where the clipboard API is missing. */
export function CopyButton({ text, label, class: cls }: { text: string; label: string; class?: string }) {
  const [copied, setCopied] = useState<"idle" | "done" | "failed">("idle");
  useEffect(() => {
    if (copied === "idle") return;
    const id = setTimeout(() => setCopied("idle"), 2500);
    return () => clearTimeout(id);
  }, [copied]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("done");
    } catch {
      setCopied(legacyCopy(text) ? "done" : "failed");
    }
  };
  return (
    <button type="button" class={cls ?? "btn btn-small"} onClick={copy} aria-label={label}>
      <span aria-live="polite">{copied === "done" ? "Copied ✓" : copied === "failed" ? "Select and copy" : "Copy"}</span>
    </button>
  );
}

function legacyCopy(text: string): boolean {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** Whether the element scrolls sideways (its content is wider than its box), kept up to date. */
function useScrollsSideways<T extends HTMLElement>(): [RefObject<T>, boolean] {
  const ref = useRef<T>(null);
  const [scrolls, setScrolls] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setScrolls(el.scrollWidth > el.clientWidth + 1);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    if (el.firstElementChild) observer.observe(el.firstElementChild);
    return () => observer.disconnect();
  }, []);
  return [ref, scrolls];
}

/**
 * A code block with a title bar holding its copy button, so the button never covers the code. When
 * the code is wider than the block, the block takes focus, so a keyboard can scroll it too.
 */
export function CodeBlock({ title, code, copyText, copyLabel, testId, fileName }: { title: string; code: string; copyText?: string; copyLabel: string; testId?: string; fileName?: string }) {
  const [ref, scrolls] = useScrollsSideways<HTMLPreElement>();
  return (
    <div class="code">
      <div class="code-head">
        <span>
          {title}
          {fileName && (
            <>
              {" "}
              · <code data-testid={testId && `${testId}-file`}>{fileName}</code>
            </>
          )}
        </span>
        <CopyButton text={copyText ?? code} label={copyLabel} />
      </div>
      <pre ref={ref} tabIndex={scrolls ? 0 : undefined} role={scrolls ? "region" : undefined} aria-label={scrolls ? `${title} code, scrolls sideways` : undefined}>
        <code data-testid={testId}>{code}</code>
      </pre>
    </div>
  );
}
