/**
 * MinIO KMS's protobuf messages (package minio.kms). The field numbers are the
 * wire contract shared with MinIO's client library; they must never change.
 */
export const WELL_KNOWN_PROTO = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
`;

export const MINIO_KMS_PROTO = `
syntax = "proto3";
package minio.kms;

message ErrResponse { string message = 1; }
message VersionResponse { string version = 1; string commit = 2; string api_version = 3; string host = 4; bool fips140 = 5; }

message ListRequest { string prefix = 1; string continue_at = 2; uint32 limit = 3; }

message ClusterStatusRequest {}
message AddClusterNodeRequest { string host = 1; }
message RemoveClusterNodeRequest { string host = 1; bool delete_cluster_on_host = 2; }
message EditClusterRequest { string host = 1; repeated uint32 remove = 2; }
message ServerStatusResponse {
  string version = 1; string api_version = 2; string host = 3;
  google.protobuf.Duration uptime = 4; string role = 5; uint64 commit = 6;
  map<uint32, string> nodes = 7; uint32 node_id = 8; sint64 leader_id = 9;
  google.protobuf.Duration last_heartbeat = 10; google.protobuf.Duration heartbeat_interval = 11;
  google.protobuf.Duration election_timeout = 12;
  string sys_os = 13; string sys_cpu_arch = 14; uint32 sys_cpu_num = 15; uint32 sys_cpu_used = 16;
  uint64 sys_mem_heap_used = 17; uint64 sys_mem_stack_used = 18;
  repeated string hsm = 19; repeated string hsm_active = 20;
}
message ClusterStatusResponse { map<uint32, ServerStatusResponse> nodes_up = 1; map<uint32, string> nodes_down = 2; }

message CreateEnclaveRequest { string name = 1; }
message DeleteEnclaveRequest { string name = 1; }
message EnclaveStatusRequest { string name = 1; }
message EnclaveStatusResponse { string name = 1; google.protobuf.Timestamp created_at = 2; string created_by = 3; }
message ListEnclavesResponse { repeated EnclaveStatusResponse enclaves = 1; string continue_at = 2; }

message CreateKeyRequest { string name = 1; string type = 2; bool add_version = 3; }
message ImportKeyRequest { string name = 1; string type = 2; bytes key = 3; }
message DeleteKeyRequest { string name = 1; uint32 version = 2; bool all_versions = 3; }
message KeyStatusRequest { string name = 1; uint32 version = 2; }
message KeyStatusResponse { string name = 1; uint32 version = 2; string type = 3; google.protobuf.Timestamp created_at = 4; string created_by = 5; }
message ListKeysResponse { repeated KeyStatusResponse keys = 1; string continue_at = 2; }
message EncryptRequest { string name = 1; uint32 version = 2; bytes plaintext = 3; bytes associated_data = 4; }
message EncryptResponse { uint32 version = 1; bytes ciphertext = 2; }
message DecryptRequest { string name = 1; uint32 version = 2; bytes ciphertext = 3; bytes associated_data = 4; }
message DecryptResponse { bytes plaintext = 1; }
message GenerateKeyRequest { string name = 1; uint32 version = 2; bytes associated_data = 3; uint32 length = 4; }
message GenerateKeyResponse { uint32 version = 1; bytes plaintext = 2; bytes ciphertext = 3; }
message MACRequest { string name = 1; uint32 version = 2; bytes message = 3; }
message MACResponse { uint32 version = 1; bytes mac = 2; }

message Rule {}
message RuleSet { map<string, Rule> rules = 1; }
message CreatePolicyRequest { string name = 1; map<string, RuleSet> allow = 2; map<string, RuleSet> deny = 3; }
message PolicyRequest { string name = 1; }
message DeletePolicyRequest { string name = 1; }
message AssignPolicyRequest { string identity = 1; string policy = 2; }
message PolicyStatusResponse { string name = 1; google.protobuf.Timestamp created_at = 4; string created_by = 5; }
message PolicyResponse { string name = 1; map<string, RuleSet> allow = 2; map<string, RuleSet> deny = 3; google.protobuf.Timestamp created_at = 4; string created_by = 5; }
message ListPoliciesResponse { repeated PolicyStatusResponse policies = 1; string continue_at = 2; }

message CreateIdentityRequest { string identity = 1; string privilege = 2; bool service_account = 3; map<string, string> tags = 4; }
message IdentityRequest { string identity = 1; }
message DeleteIdentityRequest { string identity = 1; }
message IdentityResponse {
  string identity = 1; uint32 privilege = 2; string policy = 3; google.protobuf.Timestamp created_at = 4;
  string created_by = 5; bool is_service_account = 6; repeated string service_accounts = 7; map<string, string> tags = 8;
}
message ListIdentitiesResponse { repeated IdentityResponse identities = 1; string continue_at = 2; }

// kms extensions (ids from 1000; MinIO's client never sends them).
message DeriveKeyRequest { string name = 1; uint32 version = 2; bytes context = 3; uint32 length = 4; }
message DeriveKeyResponse { uint32 version = 1; bytes key = 2; }
message AdminKeyRequest { bool enabled = 1; uint64 at = 2; bytes proof = 3; }
`;
