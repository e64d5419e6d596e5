import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TABLES, type TableDefinition } from "../functions/data/tables.js";

export interface DataTablesArgs {
  /** Tables are named `<namePrefix><logical name>`: the only tables the deploy role may touch (infra/iam). */
  namePrefix: string;
  /** Tags every table carries. */
  tags?: Record<string, string>;
}

/**
 * The DynamoDB tables, declared from the same definitions the local stack creates (TABLES), so the
 * keys cannot drift between the cloud and a laptop. The tables hold the claims and their plaintext
 * keys, so every safety net is on: point-in-time recovery, deletion protection, encryption with
 * the AWS-managed KMS key, and the `ttl` attribute as a backstop expiry.
 */
export class DataTables extends pulumi.ComponentResource {
  readonly attendees: aws.dynamodb.Table;
  readonly workshops: aws.dynamodb.Table;

  constructor(name: string, args: DataTablesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:data:DataTables", name, {}, opts);
    const byName = new Map(TABLES.map((t) => [t.logicalName, t]));
    this.attendees = this.createTable(name, byName.get("attendees")!, args);
    this.workshops = this.createTable(name, byName.get("workshops")!, args);
    this.registerOutputs({ attendeesArn: this.attendees.arn, workshopsArn: this.workshops.arn });
  }

  private createTable(parent: string, def: TableDefinition, args: DataTablesArgs): aws.dynamodb.Table {
    const attributes = [{ name: def.hashKey, type: "S" }];
    if (def.rangeKey) attributes.push({ name: def.rangeKey, type: "S" });
    return new aws.dynamodb.Table(
      `${parent}-${def.logicalName}`,
      {
        name: `${args.namePrefix}${def.logicalName}`,
        billingMode: "PAY_PER_REQUEST",
        hashKey: def.hashKey,
        rangeKey: def.rangeKey,
        attributes,
        pointInTimeRecovery: { enabled: true },
        deletionProtectionEnabled: true,
        serverSideEncryption: { enabled: true },
        ttl: { attributeName: def.ttlAttribute, enabled: true },
        tags: args.tags,
      },
      { parent: this },
    );
  }
}
