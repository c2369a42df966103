/**
 * StreamReader on its own, fed by hand (asyncio's test_streams.py reader cases, group STR), on
 * the virtual clock.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  getRunningLoop,
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  TimeoutError,
  timeout,
} from "../../src/index.ts";
import {
  StreamReader,
  IncompleteReadError as StreamsIncompleteReadError,
  LimitOverrunError as StreamsLimitOverrunError,
} from "../../src/streams/index.ts";
import { ticks, vrun } from "../helpers/run.ts";
import { errorOf, expectThrows } from "../helpers/sync.ts";

const DATA = "line1\nline2\nline3\n";

function text(data: Uint8Array): string {
  return Buffer.from(data).toString();
}

function buffered(reader: StreamReader): number {
  return reader.statistics().bufferedBytes;
}

describe("StreamReader: asyncio cases", () => {
  it("STR-01: empty feeds, read(0), a pending read woken by data or EOF, partial reads", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      reader.feedData("");
      expect(buffered(reader)).toBe(0);

      reader.feedData(DATA);
      expect(text(await reader.read(0))).toBe("");
      expect(buffered(reader)).toBe(18);
      await reader.read(18);

      const pending = createTask(() => reader.read(30));
      getRunningLoop().callSoon(() => reader.feedData(DATA));
      expect(text(await pending)).toBe(DATA);
      expect(buffered(reader)).toBe(0);

      reader.feedData("line1");
      reader.feedData("line2");
      expect(text(await reader.read(5))).toBe("line1");
      expect(buffered(reader)).toBe(5);

      const atEof = new StreamReader();
      const eofRead = createTask(() => atEof.read(1024));
      getRunningLoop().callSoon(() => atEof.feedEof());
      expect(text(await eofRead)).toBe("");
    });
  });

  it("STR-02: read(-1) reads until EOF; the limit does not cap read(n) or readexactly(n)", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const all = createTask(() => reader.read(-1));
      getRunningLoop().callSoon(() => {
        reader.feedData("chunk1\n");
        reader.feedData("chunk2");
        reader.feedEof();
      });
      expect(text(await all)).toBe("chunk1\nchunk2");

      const small = new StreamReader({ limit: 3 });
      small.feedData("chunk");
      expect(text(await small.read(5))).toBe("chunk");
      expect(buffered(small)).toBe(0);
      small.feedData("chunk");
      expect(text(await small.readexactly(5))).toBe("chunk");
      expect(buffered(small)).toBe(0);
    });
  });

  it("STR-03: an exception set after a partial read fails every later read; exception() returns it", async () => {
    await vrun(async () => {
      for (const op of ["read", "readline", "readexactly"] as const) {
        const reader = new StreamReader();
        reader.feedData(DATA);
        await reader.readline();
        const error = new RangeError("boom");
        reader.setException(error);
        expect(reader.exception()).toBe(error);
        const failure = await errorOf(
          op === "read"
            ? reader.read(2)
            : op === "readline"
              ? reader.readline()
              : reader.readexactly(2),
        );
        expect(failure).toBe(error);
      }

      const waiting = new StreamReader();
      const line = createTask(() => waiting.readline());
      await ticks(1);
      const error = new RangeError("while waiting");
      waiting.setException(error);
      expect(await errorOf(line)).toBe(error);
    });
  });

  it("STR-03: a limit below 1 is a RangeError naming it", () => {
    expect(new StreamReader({ limit: 1 }).limit).toBe(1);
    expectThrows(() => new StreamReader({ limit: 0 }), RangeError, '"limit"', "got 0");
    expectThrows(() => new StreamReader({ limit: -1 }), RangeError, '"limit"', "got -1");
    expectThrows(() => new StreamReader({ limit: 1.5 }), RangeError, '"limit"', "got 1.5");
    expectThrows(
      () => new StreamReader({ limit: "10" as unknown as number }),
      TypeError,
      '"limit"',
      '"10" (string)',
    );
  });

  it("STR-04: readline joins chunks, leaves the rest, returns the partial line at EOF; atEof()", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      reader.feedData("chunk1 ");
      const line = createTask(() => reader.readline());
      getRunningLoop().callSoon(() => {
        reader.feedData("chunk2 ");
        reader.feedData("chunk3 ");
        reader.feedData("\n chunk4");
      });
      expect(text(await line)).toBe("chunk1 chunk2 chunk3 \n");
      expect(buffered(reader)).toBe(7);

      const lines = new StreamReader();
      lines.feedData(DATA);
      expect(text(await lines.readline())).toBe("line1\n");
      expect(text(await lines.read(7))).toBe("line2\nl");

      const partial = new StreamReader();
      partial.feedData("some data");
      partial.feedEof();
      expect(text(await partial.readline())).toBe("some data");

      const empty = new StreamReader();
      empty.feedEof();
      expect(text(await empty.readline())).toBe("");

      const eof = new StreamReader();
      expect(eof.atEof()).toBe(false);
      eof.feedData("some data\n");
      expect(eof.atEof()).toBe(false);
      await eof.readline();
      expect(eof.atEof()).toBe(false);
      eof.feedData("some data\n");
      eof.feedEof();
      await eof.readline();
      expect(eof.atEof()).toBe(true);
    });
  });

  it("STR-05: an over-limit readline is a RangeError (asyncio's ValueError) and consumes as asyncio", async () => {
    await vrun(async () => {
      async function overLimit(limit: number, feeds: string[], eof: boolean): Promise<string> {
        const reader = new StreamReader({ limit });
        const line = createTask(() => reader.readline());
        getRunningLoop().callSoon(() => {
          for (const feed of feeds) reader.feedData(feed);
          if (eof) reader.feedEof();
        });
        const error = await errorOf(line);
        expect(error).toBeInstanceOf(RangeError);
        expect((error as Error).cause).toBeInstanceOf(LimitOverrunError);
        return text(await reader.read(100));
      }
      // The long line was consumed with its \n; the next line stays.
      expect(await overLimit(3, ["li", "ne1\nline2\n"], false)).toBe("line2\n");
      expect(await overLimit(3, ["li", "ne1", "li"], true)).toBe("");
      expect(await overLimit(7, ["chunk1", "chunk2", "chunk3\n"], true)).toBe("");
      expect(await overLimit(7, ["chunk1", "chunk2\n", "chunk3\n"], false)).toBe("chunk3\n");
      expect(await overLimit(7, ["12345678\n"], true)).toBe("");
      expect(await overLimit(7, ["12345678"], true)).toBe("");

      // The limit does not count the \n.
      const fits = new StreamReader({ limit: 7 });
      fits.feedData("1234567\n");
      expect(text(await fits.readline())).toBe("1234567\n");
      expect(buffered(fits)).toBe(0);
    });
  });

  it("STR-06: readuntil finds separators split across chunks", async () => {
    await vrun(async () => {
      async function until(sep: string, feeds: string[]): Promise<[string, string]> {
        const reader = new StreamReader();
        const task = createTask(() => reader.readuntil(sep));
        getRunningLoop().callSoon(() => {
          for (const feed of feeds) reader.feedData(feed);
          reader.feedEof();
        });
        const data = text(await task);
        return [data, text(await reader.read())];
      }
      expect(await until("AAA", ["lineAAA"])).toEqual(["lineAAA", ""]);
      expect(await until("AAA", ["lineAAAxxx"])).toEqual(["lineAAA", "xxx"]);
      expect(await until("aaa", ["QWEaa", "XYaa", "a"])).toEqual(["QWEaaXYaaa", ""]);
      expect(await until("aaa", ["QWEaa", "XYa", "aa"])).toEqual(["QWEaaXYaaa", ""]);
      expect(await until("aaa", ["XXX", "a", "a", "a"])).toEqual(["XXXaaa", ""]);
    });
  });

  it("STR-08: readuntil with several separators: the match that ends first wins (asyncio 3.13)", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      reader.feedData("line1\r\nline2\nline3\r");
      expect(text(await reader.readuntil(["\r\n", "\n"]))).toBe("line1\r\n");
      expect(text(await reader.readuntil(["\r\n", "\n"]))).toBe("line2\n");
      // "ab" ends before "cabd" does; of two ending at the same place the shorter wins.
      const multi = new StreamReader();
      multi.feedData("xxcabdyy");
      expect(text(await multi.readuntil(["cabd", "ab"]))).toBe("xxcab");
      const same = new StreamReader();
      same.feedData("xyz!");
      expect(text(await same.readuntil(["z!", "yz!"]))).toBe("xyz!");
      // A bytes separator works the same as a string.
      const bytes = new StreamReader();
      bytes.feedData(new Uint8Array([1, 2, 0, 3]));
      expect([...(await bytes.readuntil(new Uint8Array([0])))]).toEqual([1, 2, 0]);
    });
  });

  it("STR-07: readuntil at EOF: IncompleteReadError with the partial data, buffer cleared", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      reader.feedData("some dataAA");
      reader.feedEof();
      const error = await errorOf(reader.readuntil("AAA"));
      expect(error).toBeInstanceOf(IncompleteReadError);
      expect(error).toBeInstanceOf(StreamsIncompleteReadError);
      expect(text((error as IncompleteReadError).partial)).toBe("some dataAA");
      expect((error as IncompleteReadError).expected).toBeNull();
      expect(buffered(reader)).toBe(0);
    });
  });

  it("STR-07: readuntil over the limit: LimitOverrunError with consumed, data left in the buffer", async () => {
    await vrun(async () => {
      const reader = new StreamReader({ limit: 3 });
      reader.feedData("some dataAA");
      const notFound = await errorOf(reader.readuntil("AAA"));
      expect(notFound).toBeInstanceOf(LimitOverrunError);
      expect(notFound).toBeInstanceOf(StreamsLimitOverrunError);
      expect((notFound as Error).message).toBe(
        "Separator is not found, and chunk exceed the limit",
      );
      expect((notFound as LimitOverrunError).consumed).toBe(9);
      expect(buffered(reader)).toBe(11);

      const found = new StreamReader({ limit: 3 });
      found.feedData("some dataAAA");
      const tooLong = await errorOf(found.readuntil("AAA"));
      expect((tooLong as Error).message).toBe("Separator is found, but chunk is longer than limit");
      expect((tooLong as LimitOverrunError).consumed).toBe(9);
      expect(buffered(found)).toBe(12);
    });
  });

  it("STR-07: readuntil with an empty separator or list is a RangeError", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      expect(await errorOf(reader.readuntil(""))).toBeInstanceOf(RangeError);
      expect(await errorOf(reader.readuntil([]))).toBeInstanceOf(RangeError);
      expect(await errorOf(reader.readuntil(["\n", ""]))).toBeInstanceOf(RangeError);
      const wrong = await errorOf(reader.readuntil(5 as unknown as string));
      expect(wrong).toBeInstanceOf(TypeError);
      expect((wrong as Error).message).toContain('"separator"');
    });
  });

  it("STR-09: readexactly waits for n bytes across chunks; at EOF IncompleteReadError(partial, n)", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const exactly = createTask(() => reader.readexactly(2 * DATA.length));
      getRunningLoop().callSoon(() => {
        reader.feedData(DATA);
        reader.feedData(DATA);
        reader.feedData(DATA);
      });
      expect(text(await exactly)).toBe(DATA + DATA);
      expect(buffered(reader)).toBe(DATA.length);

      const short = new StreamReader();
      const incomplete = createTask(() => short.readexactly(2 * DATA.length));
      getRunningLoop().callSoon(() => {
        short.feedData(DATA);
        short.feedEof();
      });
      const error = await errorOf(incomplete);
      expect(error).toBeInstanceOf(IncompleteReadError);
      expect(text((error as IncompleteReadError).partial)).toBe(DATA);
      expect((error as IncompleteReadError).expected).toBe(36);
      expect((error as Error).message).toBe("18 bytes read on a total of 36 expected bytes");
      expect(buffered(short)).toBe(0);

      expect(text(await short.readexactly(0))).toBe("");
      const negative = await errorOf(short.readexactly(-1));
      expect(negative).toBeInstanceOf(RangeError);
      expect((negative as Error).message).toContain('"n"');
    });
  });

  it("STR-10: a cancelled readline leaves no waiter; a second concurrent read is a RuntimeError", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const line = createTask(() => reader.readline());
      await ticks(1);
      expect(reader.statistics().taskWaiting).toBe(true);
      const second = await errorOf(reader.read(1));
      expect(second).toBeInstanceOf(RuntimeError);
      expect((second as Error).message).toBe(
        "read() called while another task is already waiting for incoming data",
      );
      line.cancel();
      expect(await errorOf(line)).toBeInstanceOf(CancelledError);
      expect(reader.statistics().taskWaiting).toBe(false);
      reader.setException(new Error("after the cancel"));
      await ticks(2);
      expect(reader.statistics().taskWaiting).toBe(false);
    });
  });
});

describe("StreamReader", () => {
  it("a cancelled read consumes nothing: the data is there for the next read", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      reader.feedData("abc");
      const exactly = createTask(() => reader.readexactly(5));
      await ticks(1);
      exactly.cancel();
      expect(await errorOf(exactly)).toBeInstanceOf(CancelledError);
      reader.feedData("de");
      expect(text(await reader.readexactly(5))).toBe("abcde");
    });
  });

  it("successive waits, woken by I/O-like events on an idle loop, each get their own outcome", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const got: string[] = [];
      const reading = createTask(async () => {
        for (let i = 0; i < 3; i++) got.push(text(await reader.readexactly(2)));
        try {
          await reader.read(10);
        } catch (error) {
          got.push(error instanceof CancelledError ? "cancelled" : "?");
        }
        got.push(text(await reader.read(10)));
      });
      // Each step runs in its own turn of Node's loop, while every task waits on aiots.
      const steps: (() => void)[] = [
        () => reader.feedData("ab"),
        () => reader.feedData("c"),
        () => reader.feedData("d"),
        () => reader.feedData("ef"),
        () => reading.cancel(),
        () => reader.feedData("gh"),
      ];
      const next = (): void => {
        steps.shift()?.();
        if (steps.length > 0) setImmediate(next);
      };
      setImmediate(next);
      await reading;
      expect(got).toEqual(["ab", "cd", "ef", "cancelled", "gh"]);
      expect(reader.statistics().taskWaiting).toBe(false);
    });
  });
  it("a read under timeout() that expires throws TimeoutError and leaves no waiter", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const error = await errorOf(timeout(50, () => reader.readline()));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(reader.statistics().taskWaiting).toBe(false);
      reader.feedData("later\n");
      expect(text(await reader.readline())).toBe("later\n");
    });
  });

  it("for await yields the lines until EOF, the last one without its newline", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      getRunningLoop().callSoon(() => {
        reader.feedData("a\nbb\n");
        reader.feedData("ccc");
        reader.feedEof();
      });
      const lines: string[] = [];
      for await (const line of reader) lines.push(text(line));
      expect(lines).toEqual(["a\n", "bb\n", "ccc"]);
    });
  });

  it("feedData copies the caller's bytes; feeding after EOF is a RuntimeError", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const bytes = new Uint8Array([1, 2, 3]);
      reader.feedData(bytes);
      bytes[0] = 9;
      expect([...(await reader.read(3))]).toEqual([1, 2, 3]);
      reader.feedEof();
      expectThrows(() => reader.feedData("x"), RuntimeError, "feedData() after feedEof()");
      expectThrows(() => reader.feedData(5 as unknown as string), TypeError, '"data"');
    });
  });

  it("the buffer grows by doubling and hands out stable views", async () => {
    await vrun(async () => {
      const reader = new StreamReader();
      const first = Buffer.alloc(1500, 1);
      reader.feedData(first);
      const taken = await reader.read(1000);
      // Many feeds afterwards must not overwrite what was handed out.
      for (let i = 0; i < 100; i++) reader.feedData(Buffer.alloc(700, i + 2));
      expect(taken.every((b) => b === 1)).toBe(true);
      expect(buffered(reader)).toBe(500 + 70_000);
      const rest = await reader.readexactly(70_500);
      expect(rest.subarray(0, 500).every((b) => b === 1)).toBe(true);
      expect(rest[500]).toBe(2);
      expect(rest[70_499]).toBe(101);
      expect(taken.every((b) => b === 1)).toBe(true);
    });
  });

  it("pauses its transport above 2 * limit and resumes at limit, and never waits while paused", async () => {
    await vrun(async () => {
      const calls: string[] = [];
      const reader = new StreamReader({ limit: 10 });
      reader._attach(
        {
          pauseReading: () => calls.push("pause"),
          resumeReading: () => calls.push("resume"),
          readCancelled: () => calls.push("cancelled"),
        },
        getRunningLoop(),
      );
      reader.feedData("x".repeat(20));
      expect(calls).toEqual([]);
      reader.feedData("x");
      expect(calls).toEqual(["pause"]);
      expect(reader.statistics().paused).toBe(true);
      await reader.read(5);
      expect(calls).toEqual(["pause"]);
      await reader.read(6);
      expect(calls).toEqual(["pause", "resume"]);
      // Paused again, then a read that must wait resumes the transport first.
      reader.feedData("y".repeat(30));
      expect(calls).toEqual(["pause", "resume", "pause"]);
      const big = createTask(() => reader.readexactly(50));
      await ticks(1);
      expect(calls).toEqual(["pause", "resume", "pause", "resume"]);
      big.cancel();
      await errorOf(big);
      expect(calls.at(-1)).toBe("cancelled");
    });
  });

  it("read(n) checks n; statistics() and toString() describe the buffer", async () => {
    await vrun(async () => {
      const reader = new StreamReader({ limit: 100 });
      const bad = await errorOf(reader.read(1.5));
      expect(bad).toBeInstanceOf(TypeError);
      expect((bad as Error).message).toContain('"n"');
      reader.feedData("12345");
      reader.feedEof();
      expect(reader.statistics()).toEqual({
        bufferedBytes: 5,
        limit: 100,
        eof: true,
        paused: false,
        taskWaiting: false,
      });
      expect(reader.limit).toBe(100);
      expect(reader.toString()).toBe("<StreamReader 5 bytes eof limit=100>");
    });
  });
});
