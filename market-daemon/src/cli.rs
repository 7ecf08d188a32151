//! Behaviour both CLIs share.

/// `droplet … | head` closes the pipe early; Rust's `println!` then panics. A command whose
/// reader went away should just stop, as Go's does: when a panic happens while stdout is a
/// pipe with no reader left (the OS says so: `POLLERR` on it), exit quietly with 141.
pub fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_reader_gone() {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Whether stdout is a pipe or socket whose reading end is closed.
fn stdout_reader_gone() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLERR) || r.contains(PollFlags::POLLHUP))
}

/// Rows as left-aligned columns two spaces apart (Go's tabwriter as lotus's CLIs use it).
/// Widths count characters, not bytes.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pipe_whose_reader_closed_is_seen_as_gone() {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let (reader, writer) = std::io::pipe().expect("pipe");
        let open = {
            let mut fds = [PollFd::new(writer.as_fd(), PollFlags::POLLOUT)];
            poll(&mut fds, PollTimeout::ZERO).expect("poll");
            fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLERR))
        };
        assert!(!open, "a pipe with a reader is not gone");
        drop(reader);
        let mut fds = [PollFd::new(writer.as_fd(), PollFlags::POLLOUT)];
        poll(&mut fds, PollTimeout::ZERO).expect("poll");
        assert!(fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLERR)));
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["a".to_string(), "bb".to_string(), "c".to_string()],
            vec!["ééé".to_string(), "d".to_string(), String::new()],
        ];
        assert_eq!(super::table(&rows), "a    bb  c\nééé  d\n");
    }
}
