//! Background threads (bulk work on uploads and Markdown, the WAL checkpoint) run at a lower CPU
//! priority, so that on a busy machine the threads answering requests and the database writer get
//! the processor first; the background work then takes longer, which it can afford.

/// Their niceness (0 is everyone else's; 19 the lowest priority).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread to `BACKGROUND_NICE`; says so in the log if it cannot (the thread
/// then runs at the normal priority, which is only slower for others).
pub fn lower_this_thread(which: &str) {
    if let Err(e) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE)
    {
        log::warn!("could not lower the priority of {which}: {e}");
    }
}
