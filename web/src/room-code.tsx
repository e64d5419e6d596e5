import { useState } from "preact/hooks";

/**
 * The room code on the attendee's side. The projector's QR code opens `/w/<slug>?code=XXXXXX`; the
 * page keeps the code for this tab (sessionStorage), so it survives the trip to the sign-in page and
 * back, and takes it off the address bar. Without a code, or with one that is no longer valid, the
 * page asks for the code shown on the screen.
 */

const storageKey = (slug: string) => `wkm.room-code.${slug}`;

/** The code for `slug`: taken from `?code=` when the address has one, else the one kept for this tab. */
export function captureRoomCode(slug: string): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("code");
  if (fromUrl !== null) {
    if (fromUrl.trim()) rememberRoomCode(slug, fromUrl);
    url.searchParams.delete("code");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(storageKey(slug));
}

export function rememberRoomCode(slug: string, code: string): void {
  sessionStorage.setItem(storageKey(slug), code.trim());
}

export function forgetRoomCode(slug: string): void {
  sessionStorage.removeItem(storageKey(slug));
}

/** The API's answers that mean "ask for the code again" (after too many wrong ones: once the screen shows a new one). */
export const ROOM_CODE_REFUSALS = new Set(["room_code_required", "room_code_invalid", "too_many_room_codes"]);

/** Asks for the room code; `onCode` runs the claim with it. */
export function RoomCodeForm({ busy, onCode }: { busy: boolean; onCode: (code: string) => void }) {
  const [code, setCode] = useState("");
  const typed = code.replace(/[\s-]+/g, "");
  return (
    <form
      class="room-code-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (typed) onCode(typed);
      }}
    >
      <label class="field" for="room-code">
        <span class="field-label">Room code</span>
        <span class="field-hint" id="room-code-hint">
          Enter the room code shown on the screen (or scan its QR code).
        </span>
        <input
          id="room-code"
          name="code"
          type="text"
          autoComplete="off"
          autoCapitalize="characters"
          spellcheck={false}
          maxLength={12}
          required
          aria-describedby="room-code-hint"
          value={code}
          onInput={(e) => setCode((e.target as HTMLInputElement).value.toUpperCase())}
        />
      </label>
      <button type="submit" class="btn btn-primary btn-block" disabled={busy || !typed}>
        {busy ? "Creating your key…" : "Get my API key"}
      </button>
    </form>
  );
}
