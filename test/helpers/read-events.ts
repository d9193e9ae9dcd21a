/** Reads a `/events` stream as a page would: its `hello`, and the build ids each `build` message names. */
export function readEvents(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const messages = () => [...seen.matchAll(/event: build\ndata: (\[[^\]\n]*\])\n/g)].map((m) => JSON.parse(m[1]!) as number[]);
  return {
    hello: () => seen.includes("event: hello\n"),
    /** Each `build` message so far, as the ids it names. */
    messages,
    /** Every build id named so far. */
    heard: () => messages().flat(),
    /** Reads until `done()` holds, for at most `ms`. */
    async waitFor(done: () => boolean, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!done()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`not seen in the stream within ${ms} ms; it said:\n${seen}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), left))]);
        if (chunk === null) continue;
        if (chunk.done) throw new Error(`the stream ended; it said:\n${seen}`);
        seen += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}
