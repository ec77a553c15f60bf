//! The TCP relay's numbers, under their c-toxcore 0.2.18 names
//! (`TCP_common.h`, `TCP_client.h`, `TCP_server.h`, `onion.h`).

use std::time::Duration;

use toxide_core::{MAC_SIZE, NONCE_SIZE, PUBLIC_KEY_SIZE};

/// Frame ids below this are control packets; data frames carry a
/// connection id from here up (`NUM_RESERVED_PORTS`).
pub const NUM_RESERVED_PORTS: u8 = 16;
/// Connection ids a client can hold on one relay (`NUM_CLIENT_CONNECTIONS`).
pub const NUM_CLIENT_CONNECTIONS: usize = 256 - NUM_RESERVED_PORTS as usize;

/// Routing request (`TCP_PACKET_ROUTING_REQUEST`, R5).
pub const TCP_PACKET_ROUTING_REQUEST: u8 = 0;
/// Routing response (`TCP_PACKET_ROUTING_RESPONSE`, R5).
pub const TCP_PACKET_ROUTING_RESPONSE: u8 = 1;
/// Connect notification (`TCP_PACKET_CONNECTION_NOTIFICATION`, R6).
pub const TCP_PACKET_CONNECTION_NOTIFICATION: u8 = 2;
/// Disconnect notification (`TCP_PACKET_DISCONNECT_NOTIFICATION`, R6).
pub const TCP_PACKET_DISCONNECT_NOTIFICATION: u8 = 3;
/// Ping (`TCP_PACKET_PING`, R7).
pub const TCP_PACKET_PING: u8 = 4;
/// Pong (`TCP_PACKET_PONG`, R7).
pub const TCP_PACKET_PONG: u8 = 5;
/// Out-of-band send (`TCP_PACKET_OOB_SEND`, R8).
pub const TCP_PACKET_OOB_SEND: u8 = 6;
/// Out-of-band receive (`TCP_PACKET_OOB_RECV`, R8).
pub const TCP_PACKET_OOB_RECV: u8 = 7;
/// Onion request (`TCP_PACKET_ONION_REQUEST`, R9).
pub const TCP_PACKET_ONION_REQUEST: u8 = 8;
/// Onion response (`TCP_PACKET_ONION_RESPONSE`, R9).
pub const TCP_PACKET_ONION_RESPONSE: u8 = 9;
/// Forward request (`TCP_PACKET_FORWARD_REQUEST`, R10).
pub const TCP_PACKET_FORWARD_REQUEST: u8 = 10;
/// Forwarding (`TCP_PACKET_FORWARDING`, R10).
pub const TCP_PACKET_FORWARDING: u8 = 11;

/// Plaintext of either handshake: a temporary public key and a base nonce
/// (`TCP_HANDSHAKE_PLAIN_SIZE`).
pub const TCP_HANDSHAKE_PLAIN_SIZE: usize = PUBLIC_KEY_SIZE + NONCE_SIZE;
/// The server's handshake, R2 (`TCP_SERVER_HANDSHAKE_SIZE`): 96 bytes.
pub const TCP_SERVER_HANDSHAKE_SIZE: usize = NONCE_SIZE + TCP_HANDSHAKE_PLAIN_SIZE + MAC_SIZE;
/// The client's handshake, R1 (`TCP_CLIENT_HANDSHAKE_SIZE`): 128 bytes.
pub const TCP_CLIENT_HANDSHAKE_SIZE: usize = PUBLIC_KEY_SIZE + TCP_SERVER_HANDSHAKE_SIZE;

/// Largest out-of-band payload (`TCP_MAX_OOB_DATA_LENGTH`).
pub const TCP_MAX_OOB_DATA_LENGTH: usize = 1024;

/// Largest encrypted part of a frame, MAC included (`MAX_PACKET_SIZE`). A
/// frame announcing more is a connection error.
pub const MAX_PACKET_SIZE: usize = 2048;
/// Largest plaintext a frame carries.
pub const MAX_FRAME_PAYLOAD: usize = MAX_PACKET_SIZE - MAC_SIZE;
/// Size of the big-endian length before every frame.
pub const FRAME_LENGTH_SIZE: usize = 2;

/// One onion layer's fixed overhead (`ONION_SEND_BASE`): a public key, a
/// packed address and a MAC.
pub const ONION_SEND_BASE: usize = PUBLIC_KEY_SIZE + 19 + MAC_SIZE;
/// The smallest onion request frame a c-toxcore relay passes on: more than
/// the id, the nonce and two layers' overhead (`TCP_server.c`).
pub const MIN_ONION_REQUEST_FRAME: usize = 1 + NONCE_SIZE + ONION_SEND_BASE * 2 + 1;

/// How long a client waits for the handshake to finish
/// (`TCP_CONNECTION_TIMEOUT`); the server allows as long for its
/// incoming and unconfirmed connections.
pub const TCP_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How often each side pings the other (`TCP_PING_FREQUENCY`).
pub const TCP_PING_FREQUENCY: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered (`TCP_PING_TIMEOUT`).
pub const TCP_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections a c-toxcore relay keeps in each of its handshake rings
/// (`MAX_INCOMING_CONNECTIONS`); the oldest is dropped for a new one.
pub const MAX_INCOMING_CONNECTIONS: usize = 256;
