// Submit the stocks pipeline to a running Kafka Tasks deployment and print its result, using
// nothing but a Kafka client (kafkajs) and the Avro schemas (avsc), as docs/topics.md describes.
//
//   kafka-tasks schemas --export /tmp/schemas
//   node submit.js --bootstrap-servers 127.0.0.1:9092 --app-id stocks --schemas /tmp/schemas
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const avro = require('avsc');
const { Kafka, logLevel } = require('kafkajs');

const STOCKS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA', 'META', 'TSLA', 'ORCL'];

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

// -- schemas: one standalone .avsc per record, each with its fixed id -----------------------------

function loadSchemas(dir) {
  const byName = {};
  const byId = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.avsc'))) {
    const schema = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    // wrapUnions: the Value union holds several records and a map, which avsc cannot tell apart
    // unwrapped; every union value is then {"<branch type>": value} (or null).
    const type = avro.Type.forSchema(schema, { wrapUnions: true });
    const entry = { type, id: schema['kafka_tasks.schema_id'], name: schema.name };
    byName[schema.name] = entry;
    byId[entry.id] = entry;
  }
  return { byName, byId };
}

// Confluent wire format: 0x00, the schema id (4 bytes, big-endian), the Avro body.
function encode(schemas, name, record) {
  const { type, id } = schemas.byName[name];
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, type.toBuffer(record)]);
}

function decode(schemas, buffer) {
  if (!buffer || buffer.length < 5 || buffer.readUInt8(0) !== 0) return null;
  const entry = schemas.byId[buffer.readUInt32BE(1)];
  return entry ? { name: entry.name, record: entry.type.fromBuffer(buffer.subarray(5)) } : null;
}

// -- values: the kafka_tasks.Value union -----------------------------------------------------------

function value(x) {
  if (x === null || x === undefined) return { value: null };
  if (typeof x === 'string') return { value: { string: x } };
  if (typeof x === 'boolean') return { value: { boolean: x } };
  if (typeof x === 'number') return { value: Number.isInteger(x) ? { long: x } : { double: x } };
  if (Array.isArray(x)) return { value: { array: x.map(value) } };
  throw new Error(`no Value for ${typeof x}`);
}

function plain(v) {
  const branch = v.value;
  if (branch === null) return null;
  const [kind, inner] = Object.entries(branch)[0];
  if (kind === 'array') return inner.map(plain);
  if (kind === 'map') return Object.fromEntries(Object.entries(inner).map(([k, x]) => [k, plain(x)]));
  if (kind === 'kafka_tasks.Tuple') return inner.items.map(plain);
  return inner; // boolean, long, double, string, bytes; records as they are
}

// -- the pipeline: in_parallel([load(s) -> std_dev for s in STOCKS]) -> average ------------------

function task(name, args) {
  // Only uid, task_name, args and kwargs have no default (docs/topics.md).
  return { 'kafka_tasks.TaskEntry': { uid: crypto.randomUUID(), task_name: name, args: args.map(value), kwargs: {} } };
}

function stocksPipeline(stocks) {
  const chains = stocks.map((s) => ({
    entries: [task('examples.stocks.load_timeseries', [s]), task('examples.stocks.compute_std_dev', [])],
  }));
  return {
    entries: [
      { 'kafka_tasks.GroupEntry': { group_id: crypto.randomUUID(), chains } },
      task('examples.stocks.compute_average', []),
    ],
  };
}

// Right after a deployment creates its topics, brokers may not know their leaders yet: kafkajs then
// fails with a retriable error. Try again for a while.
async function retrying(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!error.retriable || Date.now() > deadline) throw new Error(`${what}: ${error.message}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function main() {
  const appId = option('app-id', 'stocks');
  const schemas = loadSchemas(option('schemas', path.join(__dirname, 'schemas')));
  const kafka = new Kafka({
    clientId: 'kafka-tasks-node-example',
    brokers: option('bootstrap-servers', '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  });
  const eventsTopic = `${appId}.pipeline-events`;
  const repliesTopic = `${appId}.replies`;
  const pipelineId = crypto.randomUUID();
  const submissionId = crypto.randomUUID();

  // Read the replies from their end, positioned before submitting (docs/topics.md).
  const admin = kafka.admin();
  await admin.connect();
  const ends = await retrying('reading the replies topic\'s end', () => admin.fetchTopicOffsets(repliesTopic));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `node-example-${crypto.randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: repliesTopic });
  const finished = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply within 120 s')), 120000);
    consumer.run({
      eachMessage: async ({ message }) => {
        const event = decode(schemas, message.value);
        if (!event || event.record.submission_id !== submissionId) return;
        clearTimeout(timer);
        resolve(event);
      },
    });
  });
  for (const { partition, offset } of ends) consumer.seek({ topic: repliesTopic, partition, offset });

  const producer = kafka.producer(); // kafkajs's default partitioner is the Java client's murmur2
  await producer.connect();
  const submitted = {
    pipeline_id: pipelineId,
    submission_id: submissionId,
    spec: stocksPipeline(STOCKS),
    reply_topic: { string: repliesTopic },
  };
  await retrying('submitting', () => producer.send({
    topic: eventsTopic,
    messages: [{ key: pipelineId, value: encode(schemas, 'PipelineSubmitted', submitted) }],
  }));
  console.log(`submitted pipeline ${pipelineId}`);

  const reply = await finished;
  await producer.disconnect();
  await consumer.disconnect();
  if (reply.name !== 'PipelineFinished' || reply.record.status !== 'COMPLETED') {
    const error = reply.record.error ? reply.record.error['kafka_tasks.TaskException'] : null;
    console.log(`failed: ${reply.record.status || reply.name}: ${error ? error.exception_message : reply.record.message}`);
    process.exit(1);
  }
  console.log(`result: ${JSON.stringify(plain(reply.record.result))}`);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(2);
});
