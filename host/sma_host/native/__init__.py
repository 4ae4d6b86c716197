"""The only code touching stdin and stdout: native-messaging framing and JSON-RPC 2.0."""
