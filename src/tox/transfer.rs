//! File transfers as an application holds them: a handle per file we
//! send, an offer and then a stream per file we receive (issue 11).
//!
//! Data never sits whole in memory. A file we send is read from its
//! source only as the session asks for chunks (at most its bulk room,
//! some 64 chunks of 1371 bytes, is ever read ahead). A file we receive
//! is a [`futures::Stream`] of [`Bytes`]; when the application reads
//! slower than the friend sends, the transfer is paused with the
//! protocol's pause above a quarter of a mebibyte unread and resumed when
//! the reader catches up, so memory stays bounded with any sender while
//! the driver, and every chat message and other transfer, keeps going.
//!
//! Handles do not keep the instance running: once the last [`Tox`] is
//! dropped or shut down, transfers end with [`FileEnded::Closed`].
//!
//! [`Tox`]: super::Tox

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};
use toxide_messenger::file::{Control, FileNumber};
use toxide_messenger::messenger::FriendNumber;
use toxide_messenger::packet::FILE_ID_LENGTH;

use super::ToxError;
use crate::driver::WeakDriverHandle;
use crate::driver::files::{Delivery, Flow, LOW_WATER, Request, Status, TransferId};

pub use crate::driver::files::FileEnded;

/// How far a transfer has got, at one moment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Progress {
    /// Sending: bytes read from the source and handed to the messenger,
    /// which sends them as the session has room (the friend has them all
    /// once [`OutgoingFile::finished`] returns `Ok`); receiving: bytes arrived,
    /// counted from the start of the file (a seek starts past 0).
    pub position: u64,
    /// The size, or `None` for a stream.
    pub size: Option<u64>,
    /// Average bytes per second since data began to flow (0 before).
    pub rate: f64,
    /// The receiver accepted the file.
    pub accepted: bool,
    /// We paused it (or, receiving, it is paused for a slow reader).
    pub paused_by_us: bool,
    /// The friend paused it.
    pub paused_by_friend: bool,
    /// Over: `Ok` with the whole file delivered.
    pub ended: Option<Result<(), FileEnded>>,
}

fn progress(status: &watch::Receiver<Status>) -> Progress {
    let s = status.borrow();
    let rate = s.started.map_or(0.0, |(at, from)| {
        let until = s.ended_at.unwrap_or_else(Instant::now);
        let secs = until.saturating_duration_since(at).as_secs_f64();
        if secs > 0.0 {
            s.done.saturating_sub(from) as f64 / secs
        } else {
            0.0
        }
    });
    Progress {
        position: s.done,
        size: s.size,
        rate,
        accepted: s.accepted,
        paused_by_us: s.paused_by_us,
        paused_by_friend: s.paused_by_friend,
        ended: s.end.clone(),
    }
}

/// Waits for a transfer's end; a driver that stopped first ends it with
/// [`FileEnded::Closed`].
async fn ended(mut status: watch::Receiver<Status>) -> Result<(), FileEnded> {
    match status.wait_for(|s| s.end.is_some()).await {
        Ok(s) => s.end.clone().unwrap_or(Err(FileEnded::Closed)),
        Err(_) => Err(FileEnded::Closed),
    }
}

/// Runs a file call in the driver task.
async fn control(
    handle: &WeakDriverHandle,
    (friend, file, transfer): (FriendNumber, FileNumber, TransferId),
    what: Control,
) -> Result<(), ToxError> {
    handle
        .call_files(move |stack, router, now| {
            router.control(stack, now, friend, file, transfer, what)
        })
        .await??;
    Ok(())
}

/// A file we send (from [`Tox::send_file`](super::Tox::send_file)).
///
/// A cheap clone; dropping it leaves the transfer running (its source is
/// read by a task of its own): cancel it to stop it.
#[derive(Debug, Clone)]
pub struct OutgoingFile {
    friend: FriendNumber,
    file: FileNumber,
    transfer: TransferId,
    file_id: [u8; FILE_ID_LENGTH],
    status: watch::Receiver<Status>,
    handle: WeakDriverHandle,
}

impl OutgoingFile {
    /// What names the transfer to the driver.
    fn id(&self) -> (FriendNumber, FileNumber, TransferId) {
        (self.friend, self.file, self.transfer)
    }

    /// To whom.
    pub fn friend(&self) -> FriendNumber {
        self.friend
    }

    /// Its number with the friend (free again once it ended).
    pub fn file(&self) -> FileNumber {
        self.file
    }

    /// Its id: offer the same one again to let the receiver resume with a
    /// seek after a broken transfer.
    pub fn file_id(&self) -> [u8; FILE_ID_LENGTH] {
        self.file_id
    }

    /// Stops sending until [`OutgoingFile::resume`] (the friend's own
    /// pause is separate).
    pub async fn pause(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Pause).await
    }

    /// Lifts our pause.
    pub async fn resume(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Accept).await
    }

    /// Ends the transfer (the friend is told); [`OutgoingFile::finished`]
    /// returns [`FileEnded::Cancelled`].
    pub async fn cancel(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Kill).await
    }

    /// How far it has got.
    pub fn progress(&self) -> Progress {
        progress(&self.status)
    }

    /// Waits until the friend has every byte (`Ok`: its acknowledgement
    /// of the last chunk arrived) or the transfer ended otherwise.
    pub async fn finished(&self) -> Result<(), FileEnded> {
        ended(self.status.clone()).await
    }
}

/// Starts a file we send: offers it and spawns the task that reads its
/// source as chunks are asked for.
pub(super) async fn send_file(
    handle: WeakDriverHandle,
    friend: FriendNumber,
    kind: u32,
    size: Option<u64>,
    file_id: [u8; FILE_ID_LENGTH],
    name: Vec<u8>,
    source: impl AsyncRead + Send + Unpin + 'static,
) -> Result<OutgoingFile, ToxError> {
    let (file, transfer, status, requests) = handle
        .call_files(move |stack, router, now| {
            router.send_file(stack, now, friend, kind, size, file_id, name)
        })
        .await??;
    let FileNumber::Outgoing(slot) = file else {
        return Err(ToxError::File(
            toxide_messenger::file::FileError::NotOutgoing(file),
        ));
    };
    tokio::spawn(read_source(
        Box::new(source),
        requests,
        handle.clone(),
        (friend, slot, transfer),
        size,
    ));
    Ok(OutgoingFile {
        friend,
        file,
        transfer,
        file_id,
        status,
        handle,
    })
}

/// The task of one file we send: reads exactly what each chunk request
/// asks for and hands it to the driver at once (a chunk held back while
/// the next is read could wait forever on a source that has no more
/// yet). Ends when the router drops the transfer (done, killed or
/// broken), the source ends, or the driver stops.
async fn read_source(
    mut source: Box<dyn AsyncRead + Send + Unpin>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    handle: WeakDriverHandle,
    (friend, slot, transfer): (FriendNumber, u8, TransferId),
    size: Option<u64>,
) {
    // Bytes taken from the source so far.
    let mut at = 0u64;
    while let Some(Request { position, length }) = requests.recv().await {
        // A seek (before accepting) moves the first request on: the bytes
        // before it are read and dropped.
        let read = async {
            if position > at {
                let mut skip = (&mut source).take(position - at);
                at += tokio::io::copy(&mut skip, &mut tokio::io::sink()).await?;
            }
            read_up_to(&mut source, length).await
        };
        let failed = match read.await {
            Err(error) => FileEnded::Source(Arc::new(error)),
            Ok(data) if position == at && (data.len() == length || size.is_none()) => {
                // A short chunk ends a stream: the requests still open are
                // void, and the task is done.
                let last = data.len() < length;
                at += data.len() as u64;
                let sent = handle
                    .send_files(move |stack, router, now| {
                        router.supply(stack, now, (friend, slot, transfer), position, data)
                    })
                    .await;
                if sent.is_err() || last {
                    return;
                }
                continue;
            }
            Ok(data) => FileEnded::SourceTooShort {
                at: at + data.len() as u64,
                size: size.unwrap_or(0),
            },
        };
        let _ = handle
            .send_files(move |stack, router, now| {
                router.source_failed(stack, now, friend, slot, transfer, failed)
            })
            .await;
        return;
    }
}

/// Reads `length` bytes, or fewer at the end of the source.
async fn read_up_to(
    source: &mut (dyn AsyncRead + Send + Unpin),
    length: usize,
) -> std::io::Result<Bytes> {
    let mut buffer = BytesMut::with_capacity(length);
    while buffer.len() < length {
        let mut limited = (&mut *source).take((length - buffer.len()) as u64);
        if limited.read_buf(&mut buffer).await? == 0 {
            break;
        }
    }
    Ok(buffer.freeze())
}

/// A file a friend offers ([`ToxEvent::FileOffer`](super::ToxEvent::FileOffer)):
/// accept it, seek first to resume one received in part, or refuse it.
///
/// Not answering leaves the offer open until the friend cancels it or
/// goes offline.
#[derive(Debug, Clone)]
pub struct IncomingFile {
    pub(super) friend: FriendNumber,
    pub(super) file: FileNumber,
    pub(super) transfer: TransferId,
    pub(super) kind: u32,
    pub(super) size: Option<u64>,
    pub(super) file_id: [u8; FILE_ID_LENGTH],
    pub(super) name: Vec<u8>,
    pub(super) handle: WeakDriverHandle,
}

impl PartialEq for IncomingFile {
    fn eq(&self, other: &Self) -> bool {
        (
            self.friend,
            self.file,
            self.transfer,
            self.kind,
            self.size,
            self.file_id,
            &self.name,
        ) == (
            other.friend,
            other.file,
            other.transfer,
            other.kind,
            other.size,
            other.file_id,
            &other.name,
        )
    }
}

impl Eq for IncomingFile {}

impl IncomingFile {
    /// What names the transfer to the driver.
    fn id(&self) -> (FriendNumber, FileNumber, TransferId) {
        (self.friend, self.file, self.transfer)
    }

    /// From whom.
    pub fn friend(&self) -> FriendNumber {
        self.friend
    }

    /// Its number with the friend.
    pub fn file(&self) -> FileNumber {
        self.file
    }

    /// [`FILEKIND_DATA`](crate::messenger::packet::FILEKIND_DATA) or
    /// another kind (avatars are 1).
    pub fn kind(&self) -> u32 {
        self.kind
    }

    /// Whether this is the friend's avatar
    /// ([`FILEKIND_AVATAR`](crate::messenger::packet::FILEKIND_AVATAR)):
    /// its [`IncomingFile::file_id`] is the image's SHA-256, so compare it
    /// with [`avatar_hash`](crate::messenger::file::avatar_hash) of the
    /// image held and cancel the offer if they match. Size 0 means the
    /// friend has no avatar now.
    pub fn is_avatar(&self) -> bool {
        self.kind == toxide_messenger::packet::FILEKIND_AVATAR
    }

    /// The size in bytes, or `None` for a stream.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The sender's id for the file: the same one again means the same
    /// file, to be resumed with [`IncomingFile::seek`].
    pub fn file_id(&self) -> [u8; FILE_ID_LENGTH] {
        self.file_id
    }

    /// The name, as sent (not checked for UTF-8).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Asks the sender to start at `position` (below the size), to resume
    /// a file of which we have that much: only before accepting.
    pub async fn seek(&self, position: u64) -> Result<(), ToxError> {
        let (friend, file, transfer) = (self.friend, self.file, self.transfer);
        self.handle
            .call_files(move |stack, router, now| {
                router.seek(stack, now, friend, file, transfer, position)
            })
            .await??;
        Ok(())
    }

    /// Accepts the file: its data arrives through the receiver.
    pub async fn accept(self) -> Result<FileReceiver, ToxError> {
        let (friend, file, transfer) = (self.friend, self.file, self.transfer);
        let accepted = self
            .handle
            .call_files(move |stack, router, now| router.accept(stack, now, friend, file, transfer))
            .await??;
        Ok(FileReceiver {
            friend,
            file,
            transfer,
            data: accepted.data,
            flow: accepted.flow,
            status: accepted.status,
            handle: self.handle,
            over: false,
        })
    }

    /// Refuses the file (the friend is told).
    pub async fn cancel(self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Kill).await
    }
}

/// The data of a file we accepted, in order: a [`Stream`] of
/// `Result<Bytes, FileEnded>` that ends (`None`) after the whole file, or
/// yields one `Err` first if the transfer ended without it (cancelled,
/// friend offline, cut short) so that a partial file never looks whole.
///
/// A stream rather than `AsyncRead`: chunks arrive as owned buffers and
/// are handed over without a copy; `tokio_util::io::StreamReader` turns it
/// into a reader. Dropping the receiver before the end cancels the
/// transfer.
#[derive(Debug)]
pub struct FileReceiver {
    friend: FriendNumber,
    file: FileNumber,
    transfer: TransferId,
    data: mpsc::UnboundedReceiver<Delivery>,
    flow: Arc<Flow>,
    status: watch::Receiver<Status>,
    handle: WeakDriverHandle,
    over: bool,
}

impl FileReceiver {
    /// What names the transfer to the driver.
    fn id(&self) -> (FriendNumber, FileNumber, TransferId) {
        (self.friend, self.file, self.transfer)
    }

    /// From whom.
    pub fn friend(&self) -> FriendNumber {
        self.friend
    }

    /// Its number with the friend.
    pub fn file(&self) -> FileNumber {
        self.file
    }

    /// Asks the friend to stop sending until [`FileReceiver::resume`].
    pub async fn pause(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Pause).await
    }

    /// Lifts our pause (one for a slow reader stays until it catches up).
    pub async fn resume(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Accept).await
    }

    /// Ends the transfer (the friend is told); the stream then yields
    /// [`FileEnded::Cancelled`].
    pub async fn cancel(&self) -> Result<(), ToxError> {
        control(&self.handle, self.id(), Control::Kill).await
    }

    /// How far it has got (arrived, not necessarily read yet).
    pub fn progress(&self) -> Progress {
        progress(&self.status)
    }

    /// Bytes arrived and not read yet: what the transfer holds in memory.
    pub fn unread_bytes(&self) -> usize {
        self.flow.queued.load(Ordering::Acquire)
    }

    /// Tells the driver the reader caught up, once per pause.
    fn nudge(&self) {
        if !self.flow.paused.load(Ordering::Acquire)
            || self.flow.queued.load(Ordering::Acquire) > LOW_WATER
            || self.flow.nudged.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (handle, friend, file, transfer) =
            (self.handle.clone(), self.friend, self.file, self.transfer);
        let FileNumber::Incoming(slot) = file else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = handle
                    .call_files(move |stack, router, now| {
                        router.drained(stack, now, friend, slot, transfer)
                    })
                    .await;
            });
        }
    }
}

impl Stream for FileReceiver {
    type Item = Result<Bytes, FileEnded>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.over {
            return Poll::Ready(None);
        }
        match self.data.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Delivery::Data(bytes))) => {
                self.flow.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                self.nudge();
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Delivery::End(Ok(())))) => {
                self.over = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Delivery::End(Err(why)))) => {
                self.over = true;
                Poll::Ready(Some(Err(why)))
            }
            Poll::Ready(None) => {
                self.over = true;
                Poll::Ready(Some(Err(FileEnded::Closed)))
            }
        }
    }
}

impl Drop for FileReceiver {
    fn drop(&mut self) {
        if self.over || self.status.borrow().end.is_some() {
            return;
        }
        let (handle, friend, file, transfer) =
            (self.handle.clone(), self.friend, self.file, self.transfer);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = control(&handle, (friend, file, transfer), Control::Kill).await;
            });
        }
    }
}
