import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { copyOut } from '../src/pg/copy-out.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;

before(async () => {
  cluster = await startPgCluster();
  await cluster.createDatabase('copyout');
  // Rows from 1 byte to 300 KB, so messages cross the socket's chunks at every kind of place; odd bytes escaped by COPY.
  await cluster.query(`CREATE TABLE t (id int, body text);
    INSERT INTO t SELECT g, repeat(chr(32 + g % 90), CASE WHEN g % 997 = 0 THEN 300000 ELSE g % 173 END) || E'\\t\\n\\\\'
      FROM generate_series(1, 30000) g;`, 'copyout');
});
after(() => cluster?.stop());

async function withClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: 'copyout' });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function collect(client: pg.Client, stream: ReturnType<typeof copyOut>): Promise<{ bytes: Buffer; rows: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.query(stream) as AsyncIterable<Buffer>) chunks.push(chunk);
  return { bytes: Buffer.concat(chunks), rows: stream.rowCount };
}

test('COPY TO STDOUT: the same bytes and row count as pg-copy-streams, and the connection serves queries after it', async () => {
  await withClient(async (client) => {
    const sql = 'COPY t TO STDOUT';
    const ours = await collect(client, copyOut(sql, { highWaterMark: 64 << 10 }));
    assert.deepEqual((await client.query('SELECT 41 + 1 AS n')).rows, [{ n: 42 }]);
    const theirs = await collect(client, copyTo(sql));
    assert.equal(ours.rows, 30000);
    assert.equal(ours.rows, theirs.rows);
    assert.ok(ours.bytes.length > 9_000_000);
    assert.ok(ours.bytes.equals(theirs.bytes), 'the bytes differ from pg-copy-streams\'');
  });
});

test('a COPY that fails half way fails the stream with the server\'s error, and the connection stays usable', async () => {
  await withClient(async (client) => {
    const failing = copyOut('COPY (SELECT 1 / (20000 - g) FROM generate_series(1, 30000) g) TO STDOUT');
    await assert.rejects(collect(client, failing), /division by zero/);
    assert.deepEqual((await client.query('SELECT 7 AS n')).rows, [{ n: 7 }]);
  });
});

/** Backend messages as the socket carries them. */
function message(code: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = code.charCodeAt(0);
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

test('the parser: a message header or body cut at any byte, a notice between rows, and what follows CopyDone given back', () => {
  const rows = [Buffer.from('1\ta\n'), Buffer.from('2\t\n'), Buffer.alloc(700, 0x78)];
  const after = Buffer.concat([message('C', Buffer.from('COPY 3\0')), message('Z', Buffer.from('I'))]);
  const wire = Buffer.concat([
    message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0])),
    message('d', rows[0]!),
    message('N', Buffer.from('SNOTICE\0\0')),
    message('d', rows[1]!),
    message('d', rows[2]!),
    message('c', Buffer.alloc(0)),
    after,
  ]);
  const parse = (chunks: Buffer[]) => {
    const stream = copyOut('COPY t TO STDOUT') as unknown as {
      _parse(chunk: Buffer): boolean;
      _detach(): void;
      _buffer: { size: number; take(n: number): Buffer };
      push(chunk: Buffer | null): boolean;
    };
    const out: Buffer[] = [];
    let givenBack: Buffer | undefined;
    let ended = false;
    stream.push = (chunk) => {
      if (chunk === null) ended = true;
      else out.push(Buffer.from(chunk));
      return true;
    };
    stream._detach = () => {
      givenBack = stream._buffer.take(stream._buffer.size);
    };
    for (const chunk of chunks) {
      if (givenBack) break;
      stream._parse(Buffer.from(chunk));
    }
    return { out: Buffer.concat(out), givenBack, ended };
  };
  const expected = Buffer.concat(rows);
  for (let cut = 1; cut < wire.length; cut++) {
    const { out, givenBack, ended } = parse([wire.subarray(0, cut), wire.subarray(cut)]);
    assert.ok(out.equals(expected), `rows wrong when cut at ${cut}`);
    assert.ok(ended, `not ended when cut at ${cut}`);
    // What follows CopyDone in its chunk goes back to pg; a later chunk stays in the socket, which is pg's again.
    const afterStart = wire.length - after.length;
    assert.ok(givenBack?.equals(cut < afterStart ? after : wire.subarray(afterStart, cut)), `wrong bytes given back when cut at ${cut}`);
  }
  const byteByByte = parse([...wire].map((b) => Buffer.from([b])));
  assert.ok(byteByByte.out.equals(expected) && byteByByte.ended);

  // An error instead of data: the parser stops at it and gives it back to pg, which reads it and ends the query.
  const error = message('E', Buffer.from('SERROR\0C22012\0Mdivision by zero\0\0'));
  const errWire = Buffer.concat([message('H', Buffer.from([0, 0, 0])), message('d', rows[0]!), error]);
  const errStart = errWire.length - error.length;
  for (let cut = 1; cut < errWire.length; cut++) {
    const { out, givenBack, ended } = parse([errWire.subarray(0, cut), errWire.subarray(cut)]);
    assert.ok(!ended, `ended at an error when cut at ${cut}`);
    assert.ok(givenBack?.equals(cut <= errStart ? error : errWire.subarray(errStart, cut)), `the error was not given back when cut at ${cut}`);
    assert.ok(expected.subarray(0, out.length).equals(out));
  }
});
