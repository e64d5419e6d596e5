import { startLocalDynamo } from "../dynamo.js";

/**
 * The local DynamoDB (dynalite, in memory) in a process of its own, for the bench: the API's CPU is
 * measured apart from it. Prints `dynamo <endpoint>` when it listens, and nothing else.
 */
const dynamo = await startLocalDynamo();
process.stdout.write(`dynamo ${dynamo.endpoint}\n`);
process.once("SIGTERM", () => void dynamo.close().then(() => process.exit(0)));
