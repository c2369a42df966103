/**
 * `asyncio.start_server` / `asyncio.open_connection`: a TCP echo server and a client doing a few
 * round trips. Each connection is handled by its own task; the server stops gracefully.
 *
 * Run: node examples/echo-server.ts
 */
import type { AddressInfo } from "node:net";
import { run } from "../src/index.ts";
import {
  openConnection,
  type StreamReader,
  type StreamWriter,
  startServer,
} from "../src/streams/index.ts";

async function handleEcho(reader: StreamReader, writer: StreamWriter): Promise<void> {
  const peer = writer.getExtraInfo("peername") as AddressInfo;
  console.log(`server: connection from ${peer.address}`);
  // One line at a time, until the client closes its side.
  for await (const line of reader) {
    writer.write(line);
    await writer.drain(); // waits if the client is not reading
  }
  console.log("server: client done, closing");
  writer.close();
  await writer.waitClosed();
}

async function main(): Promise<void> {
  const server = await startServer(handleEcho, "127.0.0.1", 0);
  const address = server.sockets[0]?.address() as AddressInfo;
  const { port } = address;
  console.log("server: listening on 127.0.0.1");

  const [reader, writer] = await openConnection("127.0.0.1", port);
  for (const message of ["hello", "asyncio", "for Node.js"]) {
    writer.write(`${message}\n`);
    const echo = await reader.readline();
    console.log(
      `client: sent ${JSON.stringify(message)}, got ${JSON.stringify(echo.toString().trimEnd())}`,
    );
  }
  writer.writeEof(); // "no more lines": the server's loop ends
  console.log(`client: server closed: ${(await reader.read()).length === 0}`);
  writer.close();
  await writer.waitClosed();

  // Stop accepting, give the handlers a second to finish, then cancel what is left.
  await server.shutdown({ timeout: 1000 });
  console.log("server: shut down");
}

await run(main);
