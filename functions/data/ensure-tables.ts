import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { TABLES, createTableInput, type TableNames } from "./tables.js";

/**
 * Creates the product's tables when they are missing (the local stack and tests; the cloud tables
 * are declared by the Pulumi program from the same definitions) and waits until they are ACTIVE.
 */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  for (const def of TABLES) {
    const name = names[def.logicalName];
    let status: string | undefined;
    try {
      status = (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
      await client.send(new CreateTableCommand(createTableInput(def, name)));
      status = "CREATING";
    }
    const deadline = Date.now() + 30_000;
    while (status !== "ACTIVE") {
      if (Date.now() > deadline) throw new Error(`table ${name} did not become ACTIVE within 30 s (status ${status})`);
      await new Promise((r) => setTimeout(r, 50));
      status = (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus;
    }
  }
}
