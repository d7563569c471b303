// Authorized-operation bit sets reported in Metadata and Describe* responses. Until ACLs exist
// every client may do everything a resource type supports, which is what Kafka reports when it
// runs without an authorizer. Bit n stands for Kafka's AclOperation code n.
const READ = 3, WRITE = 4, CREATE = 5, DELETE = 6, ALTER = 7, DESCRIBE = 8, CLUSTER_ACTION = 9;
const DESCRIBE_CONFIGS = 10, ALTER_CONFIGS = 11, IDEMPOTENT_WRITE = 12, CREATE_TOKENS = 13, DESCRIBE_TOKENS = 14;

const bits = (...ops: number[]) => ops.reduce((acc, op) => acc | (1 << op), 0);

/** Kafka's marker for "the client did not ask for authorized operations". */
export const OPERATIONS_NOT_REQUESTED = -2147483648;
export const TOPIC_OPERATIONS = bits(READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS);
export const CLUSTER_OPERATIONS = bits(CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS);
export const GROUP_OPERATIONS = bits(READ, DELETE, DESCRIBE);
