//! Once we answer 250 the message survives: a SIGKILL in the middle of a
//! stream of deliveries loses nothing that was acknowledged (and its report
//! is produced after the restart), and SIGTERM lets a transaction in flight
//! finish before the process exits.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::dns::{TestDns, Zone, silent_dns};
use support::server::{Server, fresh_data_dir, try_deliver};

/// One transaction from sender.example; true when it got 250.
fn deliver(smtp: SocketAddr, id: &str) -> bool {
    try_deliver(smtp, "sender.example", "a@sender.example", id)
}

#[test]
fn every_acknowledged_message_survives_sigkill_and_gets_a_report() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start_in(fresh_data_dir(), dns.addr, &[], &[]);
    let smtp = server.smtp;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let acknowledged = Arc::clone(&acknowledged);
        std::thread::spawn(move || {
            for n in 0..400 {
                let id = format!("crash-{n}");
                if deliver(smtp, &id) {
                    acknowledged.lock().unwrap().push(id);
                } else {
                    break;
                }
            }
        })
    };
    // Kill it mid-stream, once some messages are in.
    while acknowledged.lock().unwrap().len() < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let data_dir = server.crash();
    sender.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20 && acknowledged.len() < 400,
        "{}",
        acknowledged.len()
    );

    let server = Server::start_in(data_dir, dns.addr, &[], &[]);
    for id in &acknowledged {
        let report = server.wait_for_report(id);
        assert_eq!(report["message"]["subject"], id.as_str());
    }
}

#[test]
fn sigterm_lets_the_transaction_in_flight_finish() {
    let dns = TestDns::start(Zone::new());
    let mut server = Server::start(dns.addr, &[]);
    let stream = TcpStream::connect(server.smtp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    let mut read = |reader: &mut BufReader<TcpStream>| {
        line.clear();
        reader.read_line(&mut line).unwrap();
        line.clone()
    };
    read(&mut reader);
    writer
        .write_all(b"HELO sender.example\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<inflight@localhost>\r\nDATA\r\n")
        .unwrap();
    for _ in 0..4 {
        read(&mut reader);
    }
    writer
        .write_all(b"Subject: in flight\r\n\r\nfirst half\r\n")
        .unwrap();

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    // New clients are refused once shutdown began…
    assert!(
        TcpStream::connect(server.smtp).is_err(),
        "listener still accepting"
    );
    // …but the transaction in flight completes.
    writer.write_all(b"second half\r\n.\r\n").unwrap();
    assert!(read(&mut reader).starts_with("250"), "{line}");
    writer.write_all(b"QUIT\r\n").unwrap();
    read(&mut reader);
    drop(writer);
    let exit = server
        .wait_exit(Duration::from_secs(15))
        .expect("exits after SIGTERM");
    assert!(exit.success(), "{exit:?}");
}

/// SIGTERM the moment the start-up line is out (a supervisor stopping a
/// service it just started): the handler is already installed, so the
/// process shuts down cleanly instead of dying of the signal.
#[test]
fn sigterm_right_after_start_up_is_a_clean_shutdown() {
    for _ in 0..5 {
        let mut server = Server::start(silent_dns(), &[]);
        let status = std::process::Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = server
            .wait_exit(Duration::from_secs(15))
            .expect("exits after SIGTERM");
        assert!(exit.success(), "{exit:?}");
    }
}
