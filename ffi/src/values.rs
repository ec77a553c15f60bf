//! Between toxide's types and tox.h's C values.

use toxide::messenger::conference::ConferenceType as Kind;
use toxide::messenger::packet::{MessageKind, UserStatus as Status};

use crate::types::{ConferenceType, Connection, MessageType, UserStatus};

impl From<toxide::Connection> for Connection {
    fn from(connection: toxide::Connection) -> Self {
        match connection {
            toxide::Connection::None => Self::None,
            toxide::Connection::Tcp => Self::Tcp,
            toxide::Connection::Udp => Self::Udp,
        }
    }
}

impl From<MessageKind> for MessageType {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Normal => Self::Normal,
            MessageKind::Action => Self::Action,
        }
    }
}

impl From<MessageType> for MessageKind {
    fn from(kind: MessageType) -> Self {
        match kind {
            MessageType::Normal => Self::Normal,
            MessageType::Action => Self::Action,
        }
    }
}

impl From<Status> for UserStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::None => Self::None,
            Status::Away => Self::Away,
            Status::Busy => Self::Busy,
        }
    }
}

impl From<UserStatus> for Status {
    fn from(status: UserStatus) -> Self {
        match status {
            UserStatus::None => Self::None,
            UserStatus::Away => Self::Away,
            UserStatus::Busy => Self::Busy,
        }
    }
}

impl From<Kind> for ConferenceType {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Text => Self::Text,
            Kind::Av => Self::Av,
        }
    }
}
