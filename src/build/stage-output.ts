/**
 * The output of stages built at the same time, put back in stage order.
 *
 * Docker's classic builder runs stages one after another, so its output is each stage's
 * "Step N/M :" lines and their results in Dockerfile order, and clients (the docker CLI, tools
 * that follow the JSON stream) read it so. Interleaving concurrent stages line by line, even
 * prefixed, would break that reading; so each stage's output is held until every stage before
 * it is done, then given whole. The earliest unfinished stage (the head) is not held: its
 * output streams live, so a build whose stages depend on each other in a chain streams just as
 * a sequential one does. A stage that writes after the head has passed it (one started late,
 * found needed only while building) is given at once.
 */
export interface StageOutput {
  /** Output of stage `index`. */
  write(index: number, text: string): void;
  /** Stage `index` has no more output; what waited behind it is given. */
  finish(index: number): void;
  /** Gives everything still held, in stage order (the build ends, a stage failed). */
  flush(): void;
}

/** Sequences `order` (stage indexes in Dockerfile order) onto `emit`. */
export function newStageOutput(order: number[], emit: (text: string) => void): StageOutput {
  const slots = new Map(order.map((index, slot) => [index, slot]));
  const held = order.map((): string[] => []);
  const done = new Set<number>();
  let head = 0;
  const advance = (): void => {
    while (head < order.length && done.has(head)) {
      head++;
      const next = held[head];
      if (next) for (const t of next.splice(0)) emit(t);
    }
  };
  return {
    write(index, text) {
      const slot = slots.get(index);
      if (slot === undefined || slot <= head) emit(text);
      else held[slot]?.push(text);
    },
    finish(index) {
      const slot = slots.get(index);
      if (slot === undefined) return;
      done.add(slot);
      advance();
    },
    flush() {
      for (let s = head; s < order.length; s++) {
        const h = held[s];
        if (h) for (const t of h.splice(0)) emit(t);
        done.add(s);
      }
      head = order.length;
    },
  };
}
