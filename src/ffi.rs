//! The C ABI between this library and the MicroPython module (`mpy_module/`). The only
//! `unsafe` code of the crate lives here.
//!
//! One node per firmware: its state sits in a static behind a critical section, so the
//! MicroPython thread (API calls) and the board's mesh thread or poll hook (`pymesh_poll`)
//! never see it half-updated. The C header `pymesh_ffi.h` is generated from this file by
//! `build.rs` (cbindgen): every declaration exists once, here.
//!
//! A board (a Rust crate per firmware target, see `boards/`) calls [`register_board`] from its
//! `pymesh_board_init` before the first API call; it supplies the clock, the EUI-64, entropy
//! and the radio.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use core::cell::RefCell;
use core::fmt::Write;

use critical_section::Mutex;

use crate::mle::{router_rloc16, Timing};
use crate::node::{NetworkIdentity, Node, NodeConfig};
use crate::radio::region::{LoRaParams, ParamErrorKind};
use crate::radio::{LoRaConfig, Radio};
use crate::time::Instant;
use crate::wire::{ExtAddress, Ipv6Address};

/// What a board gives the stack. Implemented by each firmware target's board crate.
pub trait Board: Sync {
    /// Milliseconds since boot (monotonic).
    fn now(&self) -> Instant;
    /// This node's EUI-64 (the 802.15.4 extended address, `lora.mac()`).
    fn eui64(&self) -> ExtAddress;
    /// Fresh entropy to seed the protocol's pseudo-random choices.
    fn entropy(&self) -> u64;
    /// Runs `f` with exclusive access to the radio.
    fn with_radio(&self, f: &mut dyn FnMut(&mut dyn Radio));
    /// The mesh started or stopped (a board may start or stop its poll thread).
    fn mesh_running(&self, _running: bool) {}
    /// Something was queued for the radio from outside the poll (a socket send): a board
    /// whose mesh thread sleeps wakes it.
    fn wake(&self) {}
    /// The IEEE 802.15.4 channel when the board's radio is on an 802.15.4 medium instead of
    /// LoRa (the unix board on OpenThread's simulation medium): `Mesh()` then runs Thread's
    /// timing profile ([`Timing::thread`], 802.15.4 PHY in the MAC) with this channel in its
    /// network identity. `None` (the default): LoRa, timed by the LoRa configuration.
    fn ieee802154_channel(&self) -> Option<u8> {
        None
    }
}

struct Stack {
    lora: Option<LoRaConfig>,
    node: Option<Node>,
    /// Set by `deinit`: getters answer with Pycom's "after deinit" values.
    deinitialised: bool,
    /// A `cli('ping ...')` waiting for its reply until this instant.
    ping_deadline: Option<Instant>,
    ping_seq: u16,
}

static BOARD: Mutex<core::cell::Cell<Option<&'static dyn Board>>> =
    Mutex::new(core::cell::Cell::new(None));
/// The shim's "datagrams queued" notification (`rx_cb`), called after a poll, outside the
/// stack's lock, with the number of datagrams queued on sockets since the last call.
static RX_CALLBACK: Mutex<core::cell::Cell<Option<extern "C" fn(u32)>>> =
    Mutex::new(core::cell::Cell::new(None));
static STACK: Mutex<RefCell<Stack>> = Mutex::new(RefCell::new(Stack {
    lora: None,
    node: None,
    deinitialised: false,
    ping_deadline: None,
    ping_seq: 0,
}));

/// Registers the board. Call once, before the first API call (boards do it in `pymesh_board_init`).
pub fn register_board(board: &'static dyn Board) {
    critical_section::with(|cs| BOARD.borrow(cs).set(Some(board)));
}

fn board() -> Option<&'static dyn Board> {
    critical_section::with(|cs| BOARD.borrow(cs).get())
}

fn with_stack<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
    critical_section::with(|cs| f(&mut STACK.borrow(cs).borrow_mut()))
}

/// Runs the node's due work; returns the next deadline in board milliseconds
/// (`u64::MAX`: nothing scheduled, wait for the radio). Boards call this from their poll
/// thread or hook; Rust boards may call it directly.
pub fn poll() -> u64 {
    let Some(b) = board() else { return u64::MAX };
    let now = b.now();
    let (next, queued) = with_stack(|s| {
        let Some(node) = s.node.as_mut() else {
            return (u64::MAX, 0);
        };
        b.with_radio(&mut |radio| {
            node.poll(now, radio);
        });
        let next = node
            .poll_at()
            .map(|t| t.millis().max(now.millis()))
            .unwrap_or(u64::MAX);
        (next, node.take_datagrams_queued())
    });
    if queued > 0 {
        if let Some(cb) = critical_section::with(|cs| RX_CALLBACK.borrow(cs).get()) {
            cb(queued);
        }
    }
    next
}

/// Sets (or clears, with NULL) the function told how many datagrams were queued on mesh
/// sockets, after each poll that queued some. It runs on the mesh thread (unix) or in the VM
/// poll hook (bare metal): it must only schedule work (MicroPython: `mp_sched_schedule`).
/// Datagrams queued before the call are not counted for the new function.
#[no_mangle]
pub extern "C" fn pymesh_set_rx_callback(callback: Option<extern "C" fn(u32)>) {
    critical_section::with(|cs| {
        RX_CALLBACK.borrow(cs).set(callback);
        if let Some(n) = STACK.borrow(cs).borrow_mut().node.as_mut() {
            n.take_datagrams_queued();
        }
    });
}

/// Runs `f` on the running node (for board-side diagnostics and tests).
pub fn with_node<R>(f: impl FnOnce(&Node) -> R) -> Option<R> {
    with_stack(|s| s.node.as_ref().map(f))
}

// ---------------------------------------------------------------------------------------------
// C types

/// Which Python exception the shim raises.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pymesh_error_kind {
    Ok = 0,
    ValueError = 1,
    OsError = 2,
}

/// An error for the shim to raise: `message` (not NUL-terminated, `message_len` bytes,
/// static) and, for OSError, `errno`.
#[repr(C)]
pub struct pymesh_error {
    pub kind: pymesh_error_kind,
    pub os_errno: i32,
    pub message: *const u8,
    pub message_len: usize,
}

/// `network.LoRa(...)` arguments; `*_given` false means "not passed" (region default).
#[repr(C)]
pub struct pymesh_lora_params {
    pub id: i32,
    pub mode: i32,
    pub region_given: bool,
    pub region: i32,
    pub frequency_given: bool,
    pub frequency: i64,
    pub tx_power_given: bool,
    pub tx_power: i32,
    pub bandwidth: i32,
    pub sf: i32,
    pub preamble: i32,
    pub coding_rate: i32,
    pub power_mode: i32,
    pub tx_iq: bool,
    pub rx_iq: bool,
    pub adr: bool,
    pub public_: bool,
    pub tx_retries: i32,
    pub device_class: i32,
}

/// One IPv6 address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pymesh_ip6 {
    pub bytes: [u8; 16],
}

/// `leader()`: partition id, leader's EUI-64, leader's RLOC16.
#[repr(C)]
pub struct pymesh_leader {
    pub part_id: u32,
    pub mac: u64,
    pub rloc16: u16,
}

/// One row of `routers()`.
#[repr(C)]
pub struct pymesh_router {
    pub mac: u64,
    pub rloc16: u16,
    pub id: u8,
    pub path_cost: u8,
    pub age: u32,
}

/// One row of `neighbors()`.
#[repr(C)]
pub struct pymesh_neighbor {
    pub mac: u64,
    pub role: u8,
    pub rloc16: u16,
    pub rssi: i16,
    pub age: u32,
}

fn ok(err: *mut pymesh_error) {
    set_error(err, pymesh_error_kind::Ok, 0, "");
}

fn set_error(err: *mut pymesh_error, kind: pymesh_error_kind, errno: i32, message: &'static str) {
    if err.is_null() {
        return;
    }
    // SAFETY: the caller passes a valid, writable `pymesh_error` (checked non-null above).
    unsafe {
        *err = pymesh_error {
            kind,
            os_errno: errno,
            message: message.as_ptr(),
            message_len: message.len(),
        };
    }
}

const EINVAL: i32 = 22;
const ENODEV: i32 = 19;

// ---------------------------------------------------------------------------------------------
// network.LoRa

/// Validates and applies the LoRa parameters. False with `err` set when refused.
///
/// # Safety
/// `params` is NULL or points to a valid `pymesh_lora_params`; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_lora_init(
    params: *const pymesh_lora_params,
    err: *mut pymesh_error,
) -> bool {
    if params.is_null() {
        set_error(err, pymesh_error_kind::ValueError, EINVAL, "no parameters");
        return false;
    }
    // SAFETY: non-null (checked), and the shim passes a pointer to a live, initialised struct.
    let p = unsafe { &*params };
    let params = LoRaParams {
        id: p.id,
        mode: p.mode,
        region: p.region_given.then_some(p.region),
        frequency: p.frequency_given.then_some(p.frequency),
        tx_power: p.tx_power_given.then_some(p.tx_power),
        bandwidth: p.bandwidth,
        sf: p.sf,
        preamble: p.preamble,
        coding_rate: p.coding_rate,
        power_mode: p.power_mode,
        tx_iq: p.tx_iq,
        rx_iq: p.rx_iq,
        adr: p.adr,
        public: p.public_,
        tx_retries: p.tx_retries,
        device_class: p.device_class,
    };
    match params.validate() {
        Ok(config) => {
            with_stack(|s| s.lora = Some(config));
            ok(err);
            true
        }
        Err(e) => {
            let kind = match e.kind {
                ParamErrorKind::Value => pymesh_error_kind::ValueError,
                ParamErrorKind::Os => pymesh_error_kind::OsError,
            };
            set_error(
                err,
                kind,
                if kind == pymesh_error_kind::OsError {
                    ENODEV
                } else {
                    EINVAL
                },
                e.message,
            );
            false
        }
    }
}

/// Writes the node's EUI-64 (8 bytes, big-endian) to `out`. False when no board is registered.
///
/// # Safety
/// `out` is NULL or points to 8 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pymesh_lora_mac(out: *mut u8) -> bool {
    let Some(b) = board() else { return false };
    if out.is_null() {
        return false;
    }
    let mac = b.eui64().0;
    // SAFETY: the caller passes a buffer of at least 8 writable bytes (documented contract).
    unsafe { core::ptr::copy_nonoverlapping(mac.as_ptr(), out, 8) };
    true
}

// ---------------------------------------------------------------------------------------------
// LoRa.Mesh

/// Starts the mesh with `key` (`key_len` bytes: shorter keys are zero-padded to 16, as Pycom
/// documented; longer is a ValueError). A running mesh is left running (second `Mesh()`).
///
/// # Safety
/// `key` is NULL or points to `key_len` readable bytes; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_mesh_start(
    key: *const u8,
    key_len: usize,
    err: *mut pymesh_error,
) -> bool {
    let Some(b) = board() else {
        set_error(
            err,
            pymesh_error_kind::OsError,
            ENODEV,
            "no board registered: call pymesh_board_init first",
        );
        return false;
    };
    if key_len > 16 {
        set_error(
            err,
            pymesh_error_kind::ValueError,
            EINVAL,
            "key must be at most 16 bytes",
        );
        return false;
    }
    let mut network_key = NetworkIdentity::DEFAULT_KEY;
    if !key.is_null() {
        network_key = [0; 16];
        // SAFETY: `key` points to `key_len` (<= 16, checked) readable bytes.
        unsafe { core::ptr::copy_nonoverlapping(key, network_key.as_mut_ptr(), key_len) };
    }
    let now = b.now();
    let started = with_stack(|s| {
        let Some(lora) = s.lora else {
            return Err("LoRa is not initialised");
        };
        if s.node.is_some() {
            return Ok(false);
        }
        let mut identity = NetworkIdentity::pymesh(network_key);
        let timing = match b.ieee802154_channel() {
            Some(channel) => {
                identity.channel = channel;
                Timing::thread()
            }
            None => Timing::lora(lora.frame_time()),
        };
        let config = NodeConfig {
            ext_addr: b.eui64(),
            identity,
            lora,
            timing,
        };
        let mut node = Node::new(config, b.entropy());
        node.start(now);
        s.node = Some(node);
        s.deinitialised = false;
        Ok(true)
    });
    match started {
        Ok(newly) => {
            if newly {
                b.mesh_running(true);
            }
            ok(err);
            true
        }
        Err(msg) => {
            set_error(err, pymesh_error_kind::OsError, ENODEV, msg);
            false
        }
    }
}

/// Stops the mesh. Idempotent: a second call does nothing. Returns true.
#[no_mangle]
pub extern "C" fn pymesh_mesh_deinit() -> bool {
    let was_running = with_stack(|s| {
        let was = s.node.take().map(|mut n| n.stop()).is_some();
        s.deinitialised = true;
        was
    });
    if was_running {
        if let Some(b) = board() {
            b.mesh_running(false);
        }
    }
    true
}

/// True while a mesh runs.
#[no_mangle]
pub extern "C" fn pymesh_mesh_running() -> bool {
    with_stack(|s| s.node.is_some())
}

/// Role: 0 disabled .. 4 leader; -1 after deinit.
#[no_mangle]
pub extern "C" fn pymesh_mesh_state() -> i32 {
    with_stack(|s| match &s.node {
        Some(n) => n.role() as i32,
        None if s.deinitialised => -1,
        None => 0,
    })
}

/// True when this node is the only router or leader of its partition (and after deinit).
#[no_mangle]
pub extern "C" fn pymesh_mesh_single() -> bool {
    with_stack(|s| s.node.as_ref().map(|n| n.is_single()).unwrap_or(true))
}

/// RLOC16; 0xfffe while detached; -1 after deinit.
#[no_mangle]
pub extern "C" fn pymesh_mesh_rloc() -> i32 {
    with_stack(|s| s.node.as_ref().map(|n| n.rloc16() as i32).unwrap_or(-1))
}

/// Fills `out` with the leader's data; false when not attached.
///
/// # Safety
/// `out` is NULL or points to a writable `pymesh_leader`.
#[no_mangle]
pub unsafe extern "C" fn pymesh_mesh_leader(out: *mut pymesh_leader) -> bool {
    if out.is_null() {
        return false;
    }
    let leader = with_stack(|s| {
        let n = s.node.as_ref()?;
        let ld = n.leader_data()?;
        Some(pymesh_leader {
            part_id: ld.partition_id,
            mac: n.leader_ext_addr().map(|a| a.to_u64()).unwrap_or(0),
            rloc16: router_rloc16(ld.leader_router_id),
        })
    });
    match leader {
        Some(l) => {
            // SAFETY: non-null (checked); the caller passes a writable `pymesh_leader`.
            unsafe { *out = l };
            true
        }
        None => false,
    }
}

/// Copies up to `cap` unicast addresses (Pycom's order) to `out`; returns how many.
///
/// # Safety
/// `out` points to `cap` writable `pymesh_ip6` entries.
#[no_mangle]
pub unsafe extern "C" fn pymesh_mesh_ipaddr(out: *mut pymesh_ip6, cap: usize) -> usize {
    let addrs = with_stack(|s| {
        s.node
            .as_ref()
            .map(|n| n.unicast_addresses())
            .unwrap_or_default()
    });
    let n = addrs.len().min(cap);
    for (i, a) in addrs.iter().take(n).enumerate() {
        // SAFETY: `out` holds `cap` writable entries and i < n <= cap.
        unsafe { *out.add(i) = pymesh_ip6 { bytes: a.0 } };
    }
    n
}

/// Copies up to `cap` router-table rows to `out`; returns how many.
///
/// # Safety
/// `out` points to `cap` writable `pymesh_router` entries.
#[no_mangle]
pub unsafe extern "C" fn pymesh_mesh_routers(out: *mut pymesh_router, cap: usize) -> usize {
    let now = board().map(|b| b.now()).unwrap_or_default();
    with_stack(|s| {
        let Some(n) = s.node.as_ref() else { return 0 };
        let own = n.rloc16();
        let mut count = 0;
        for r in n.mle().routers().iter().take(cap) {
            let rloc16 = router_rloc16(r.router_id);
            let row = pymesh_router {
                mac: r.ext_addr.map(|a| a.to_u64()).unwrap_or(0),
                rloc16,
                id: r.router_id,
                path_cost: r.path_cost,
                age: if rloc16 == own {
                    0
                } else {
                    now.since(r.last_heard).secs() as u32
                },
            };
            // SAFETY: `out` holds `cap` writable entries and count < cap.
            unsafe { *out.add(count) = row };
            count += 1;
        }
        count
    })
}

/// Copies up to `cap` neighbor-table rows to `out` (routers we have a link with, children,
/// our parent; the leader shows as a router, as on Pycom); returns how many.
///
/// # Safety
/// `out` points to `cap` writable `pymesh_neighbor` entries.
#[no_mangle]
pub unsafe extern "C" fn pymesh_mesh_neighbors(out: *mut pymesh_neighbor, cap: usize) -> usize {
    if out.is_null() {
        return 0;
    }
    let now = board().map(|b| b.now()).unwrap_or_default();
    with_stack(|s| {
        let Some(n) = s.node.as_ref() else { return 0 };
        let mut count = 0;
        for nb in n.neighbors(now).iter().take(cap) {
            let row = pymesh_neighbor {
                mac: nb.ext_addr.to_u64(),
                role: match nb.role {
                    crate::mle::Role::Child => 2,
                    _ => 3,
                },
                rloc16: nb.rloc16,
                rssi: nb.avg_rssi,
                age: nb.age.secs() as u32,
            };
            // SAFETY: `out` holds `cap` writable entries and count < cap.
            unsafe { *out.add(count) = row };
            count += 1;
        }
        count
    })
}

/// Formats `addr` as Pycom prints it (8 groups of `%x`, no `::`) into `buf` (NUL-terminated);
/// returns the length without the NUL, or 0 when `cap` is too small.
///
/// # Safety
/// `addr` is NULL or valid; `buf` is NULL or has `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pymesh_ip6_format(
    addr: *const pymesh_ip6,
    buf: *mut u8,
    cap: usize,
) -> usize {
    if addr.is_null() || buf.is_null() {
        return 0;
    }
    // SAFETY: non-null; the caller passes a valid address.
    let a = Ipv6Address(unsafe { (*addr).bytes });
    let mut s: heapless::String<40> = heapless::String::new();
    if write!(s, "{}", a).is_err() || s.len() + 1 > cap {
        return 0;
    }
    // SAFETY: `buf` has `cap` writable bytes and s.len() + 1 <= cap.
    unsafe {
        core::ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len());
        *buf.add(s.len()) = 0;
    }
    s.len()
}

/// Parses an IPv6 address (any textual form) from `len` bytes at `text`. False when invalid.
///
/// # Safety
/// `text` is NULL or has `len` readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_ip6_parse(
    text: *const u8,
    len: usize,
    out: *mut pymesh_ip6,
) -> bool {
    if text.is_null() || out.is_null() {
        return false;
    }
    // SAFETY: `text` points to `len` readable bytes.
    let bytes = unsafe { core::slice::from_raw_parts(text, len) };
    let Ok(s) = core::str::from_utf8(bytes) else {
        return false;
    };
    match Ipv6Address::parse(s) {
        Some(a) => {
            // SAFETY: non-null; writable.
            unsafe { *out = pymesh_ip6 { bytes: a.0 } };
            true
        }
        None => false,
    }
}

/// Bare metal has no std panic handler: report through the board, which never returns.
/// (Nothing in the core panics by design; this is the last line of defence.)
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn pymesh_board_panic(message: *const u8, len: usize) -> !;
    }
    // Where it happened, for the board to print: a panic here is a bug to report.
    let mut text: heapless::String<160> = heapless::String::new();
    if let Some(loc) = info.location() {
        let _ = write!(text, "{}:{}: ", loc.file(), loc.line());
    }
    let _ = write!(text, "{}", info.message());
    // SAFETY: every bare-metal board defines `pymesh_board_panic`, which never returns and
    // only reads `len` bytes at `message` (a live stack buffer).
    unsafe { pymesh_board_panic(text.as_ptr(), text.len()) }
}

// ---------------------------------------------------------------------------------------------
// socket.socket(socket.AF_LORA, socket.SOCK_RAW): UDP over the mesh. Results are >= 0 on
// success and a negated errno otherwise (EBADF when the mesh is not running).

const EBADF: i32 = 9;
const EAGAIN: i32 = 11;

fn socket_id(id: i32) -> Option<crate::net::SocketId> {
    u8::try_from(id)
        .ok()
        .filter(|i| (*i as usize) < crate::net::MAX_SOCKETS)
        .map(crate::net::SocketId)
}

/// Opens a mesh socket; its id, or -EMFILE for a 4th, -EBADF without a running mesh.
#[no_mangle]
pub extern "C" fn pymesh_socket_open() -> i32 {
    with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => match n.socket_open() {
            Ok(id) => id.0 as i32,
            Err(e) => -e.errno(),
        },
    })
}

/// Binds to `port` on every address (`addr` NULL or `::`) or on `addr`.
///
/// # Safety
/// `addr` is NULL or points to a valid `pymesh_ip6`.
#[no_mangle]
pub unsafe extern "C" fn pymesh_socket_bind(id: i32, addr: *const pymesh_ip6, port: i32) -> i32 {
    // SAFETY: the caller passes NULL or a valid address (documented above).
    let addr = unsafe { addr.as_ref() }.map(|a| Ipv6Address(a.bytes));
    let Some(id) = socket_id(id) else {
        return -EBADF;
    };
    let Ok(port) = u16::try_from(port) else {
        return -(crate::net::NetError::InvalidPort.errno());
    };
    with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => match n.socket_bind(id, addr, port) {
            Ok(()) => 0,
            Err(e) => -e.errno(),
        },
    })
}

/// Sends `len` bytes to `addr`:`port`; the byte count, or a negated errno.
///
/// # Safety
/// `data` points to `len` readable bytes and `addr` to a valid `pymesh_ip6`.
#[no_mangle]
pub unsafe extern "C" fn pymesh_socket_sendto(
    id: i32,
    data: *const u8,
    len: usize,
    addr: *const pymesh_ip6,
    port: i32,
) -> i32 {
    if data.is_null() && len > 0 {
        return -EINVAL;
    }
    // SAFETY: the caller passes a valid address (documented above).
    let Some(addr) = (unsafe { addr.as_ref() }).map(|a| Ipv6Address(a.bytes)) else {
        return -EINVAL;
    };
    let payload: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: `data` points to `len` readable bytes (documented above), non-null.
        unsafe { core::slice::from_raw_parts(data, len) }
    };
    let Some(id) = socket_id(id) else {
        return -EBADF;
    };
    let Ok(port) = u16::try_from(port) else {
        return -EINVAL;
    };
    let Some(b) = board() else { return -EBADF };
    let now = b.now();
    let r = with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => match n.socket_sendto(now, id, &addr, port, payload) {
            Ok(sent) => sent.min(i32::MAX as usize) as i32,
            Err(e) => -e.errno(),
        },
    });
    b.wake();
    r
}

/// Takes the oldest queued datagram: copies up to `cap` bytes to `buf`, the sender to `addr`
/// and `port`; returns the length copied, or -EAGAIN when nothing is queued.
///
/// # Safety
/// `buf` has `cap` writable bytes; `addr` and `port` point to writable values.
#[no_mangle]
pub unsafe extern "C" fn pymesh_socket_recvfrom(
    id: i32,
    buf: *mut u8,
    cap: usize,
    addr: *mut pymesh_ip6,
    port: *mut u16,
) -> i32 {
    if (buf.is_null() && cap > 0) || addr.is_null() || port.is_null() {
        return -EINVAL;
    }
    let Some(id) = socket_id(id) else {
        return -EBADF;
    };
    let out: &mut [u8] = if cap == 0 {
        &mut []
    } else {
        // SAFETY: `buf` has `cap` writable bytes (documented above), non-null.
        unsafe { core::slice::from_raw_parts_mut(buf, cap) }
    };
    with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => match n.socket_recv(id, out) {
            None => -EAGAIN,
            Some((len, from, from_port)) => {
                // SAFETY: both point to writable values (checked non-null above).
                unsafe {
                    *addr = pymesh_ip6 { bytes: from.0 };
                    *port = from_port;
                }
                len.min(i32::MAX as usize) as i32
            }
        },
    })
}

/// The longest datagram a socket can hand out (UDP payload of a 1280-byte IPv6 packet, plus
/// the border router's 19-byte header): `recvfrom(n)` never needs a bigger buffer.
#[no_mangle]
pub extern "C" fn pymesh_socket_max_len() -> usize {
    crate::net::sockets::MAX_QUEUED_LEN
}

/// Datagrams queued on the socket (for poll/select and rx_cb), or a negated errno.
#[no_mangle]
pub extern "C" fn pymesh_socket_pending(id: i32) -> i32 {
    let Some(id) = socket_id(id) else {
        return -EBADF;
    };
    with_stack(|s| {
        s.node
            .as_ref()
            .map(|n| n.socket_pending(id) as i32)
            .unwrap_or(-EBADF)
    })
}

/// Closes the socket; closing twice, or after deinit, does nothing.
#[no_mangle]
pub extern "C" fn pymesh_socket_close(id: i32) {
    if let Some(id) = socket_id(id) {
        with_stack(|s| {
            if let Some(n) = s.node.as_mut() {
                n.socket_close(id);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Border router: `border_router(net, pref)`, `border_router()`, `border_router_del(net)`.

use crate::cli::parse_prefix;

/// Adds an on-mesh prefix this node routes for (`preference` -1, 0, 1). 0, or -EINVAL for a
/// bad prefix or preference, -EBADF without a running mesh.
///
/// # Safety
/// `text` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pymesh_border_router_add(
    text: *const u8,
    len: usize,
    preference: i32,
) -> i32 {
    if text.is_null() {
        return -EINVAL;
    }
    // SAFETY: `text` has `len` readable bytes (documented above).
    let bytes = unsafe { core::slice::from_raw_parts(text, len) };
    let (Some((prefix, length)), true) = (
        core::str::from_utf8(bytes).ok().and_then(parse_prefix),
        (-1..=1).contains(&preference),
    ) else {
        return -EINVAL;
    };
    let Some(b) = board() else { return -EBADF };
    let now = b.now();
    let r = with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => match n.border_router_add(now, prefix, length, preference as i8) {
            Ok(()) => 0,
            Err(_) => -EINVAL,
        },
    });
    b.wake();
    r
}

/// Removes one of our prefixes: 0, -ENOENT when it was not ours, -EINVAL, -EBADF.
///
/// # Safety
/// `text` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pymesh_border_router_del(text: *const u8, len: usize) -> i32 {
    if text.is_null() {
        return -EINVAL;
    }
    // SAFETY: `text` has `len` readable bytes (documented above).
    let bytes = unsafe { core::slice::from_raw_parts(text, len) };
    let Some((prefix, length)) = core::str::from_utf8(bytes).ok().and_then(parse_prefix) else {
        return -EINVAL;
    };
    let Some(b) = board() else { return -EBADF };
    let now = b.now();
    let r = with_stack(|s| match s.node.as_mut() {
        None => -EBADF,
        Some(n) => {
            if n.border_router_remove(now, prefix, length) {
                0
            } else {
                -2
            }
        }
    });
    b.wake();
    r
}

/// Our prefix `index` as text ("2001:db8:0:0::/64", OpenThread's prefix form) in `buf`, its
/// preference in `*preference`; the text length, 0 past the last one.
///
/// # Safety
/// `buf` has `cap` writable bytes; `preference` is writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_border_router_get(
    index: usize,
    buf: *mut u8,
    cap: usize,
    preference: *mut i32,
) -> usize {
    if buf.is_null() || preference.is_null() {
        return 0;
    }
    let entry = with_stack(|s| {
        s.node
            .as_ref()
            .and_then(|n| n.border_routers().get(index).copied())
    });
    let Some((prefix, length, pref)) = entry else {
        return 0;
    };
    let mut text: heapless::String<64> = heapless::String::new();
    if crate::netdata::write_prefix(&mut text, &prefix, length).is_err() {
        return 0;
    }
    // SAFETY: `preference` is writable (checked non-null).
    unsafe { *preference = pref as i32 };
    copy_out(&text, buf, cap)
}

/// Copies `text` NUL-terminated into `out` (truncated to fit); returns its length.
fn copy_out(text: &str, out: *mut u8, cap: usize) -> usize {
    if out.is_null() || cap == 0 {
        return 0;
    }
    let n = text.len().min(cap - 1);
    // SAFETY: callers pass `out` with `cap` writable bytes, and n + 1 <= cap.
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), out, n);
        *out.add(n) = 0;
    }
    n
}

/// Runs an OpenThread CLI command; writes the text (NUL-terminated, truncated to fit) to
/// `out` and returns its length without the NUL. For `ping`, the request is sent and
/// `*pending` set: the shim then calls [`pymesh_cli_wait`] until it clears.
///
/// # Safety
/// `cmd` has `cmd_len` readable bytes; `out` has `cap` writable bytes; `pending` is writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_cli(
    cmd: *const u8,
    cmd_len: usize,
    out: *mut u8,
    cap: usize,
    pending: *mut bool,
) -> usize {
    if cmd.is_null() || out.is_null() || cap == 0 || pending.is_null() {
        return 0;
    }
    // SAFETY: `pending` is writable (checked non-null).
    unsafe { *pending = false };
    // SAFETY: `cmd` has `cmd_len` readable bytes (documented above).
    let bytes = unsafe { core::slice::from_raw_parts(cmd, cmd_len) };
    let line = core::str::from_utf8(bytes).unwrap_or("");
    let Some(b) = board() else {
        return copy_out(crate::cli::INVALID_COMMAND, out, cap);
    };
    let now = b.now();
    let mut text: heapless::String<2048> = heapless::String::new();
    let started = with_stack(|s| {
        if crate::cli::is_ping(line) {
            let seq = s.ping_seq.wrapping_add(1);
            let result = match s.node.as_mut() {
                None => Err(crate::cli::INVALID_STATE),
                Some(n) => {
                    // Replies to earlier pings are stale now.
                    while n.take_ping_reply().is_some() {}
                    crate::cli::start_ping(n, now, line, seq)
                }
            };
            match result {
                Ok(()) => {
                    s.ping_seq = seq;
                    let wait = s
                        .node
                        .as_ref()
                        .map(|n| n.config().timing.frame_time.millis() * 40 + 3000)
                        .unwrap_or(0);
                    s.ping_deadline = Some(now + crate::time::Duration::from_millis(wait));
                    true
                }
                Err(e) => {
                    let _ = text.push_str(e);
                    false
                }
            }
        } else {
            // A full buffer truncates the text; what fits is still worth returning.
            let _ = crate::cli::execute(s.node.as_mut(), now, line, &mut text);
            false
        }
    });
    if started {
        b.wake();
        // SAFETY: `pending` is writable (checked non-null).
        unsafe { *pending = true };
    }
    copy_out(&text, out, cap)
}

/// Collects the output of a pending `cli('ping ...')`: the reply line and OpenThread's
/// statistics line once the reply arrived (then `*pending` clears), nothing while it is
/// awaited, the statistics line (100 % loss) and `*pending` cleared at the deadline. `out`
/// should hold 320 bytes.
///
/// # Safety
/// `out` has `cap` writable bytes; `pending` is writable.
#[no_mangle]
pub unsafe extern "C" fn pymesh_cli_wait(out: *mut u8, cap: usize, pending: *mut bool) -> usize {
    if out.is_null() || cap == 0 || pending.is_null() {
        return 0;
    }
    let now = board().map(|b| b.now()).unwrap_or_default();
    let mut text: heapless::String<320> = heapless::String::new();
    let still = with_stack(|s| {
        let Some(deadline) = s.ping_deadline else {
            return false;
        };
        let Some(n) = s.node.as_mut() else {
            s.ping_deadline = None;
            return false;
        };
        if let Some(r) = n.take_ping_reply() {
            let _ = write!(text, "{r}\r\n");
            let _ = crate::cli::ping_statistics(&mut text, Some(r.time));
            s.ping_deadline = None;
            return false;
        }
        if now >= deadline {
            let _ = crate::cli::ping_statistics(&mut text, None);
            s.ping_deadline = None;
            return false;
        }
        true
    });
    // SAFETY: `pending` is writable (checked non-null).
    unsafe { *pending = still };
    copy_out(&text, out, cap)
}

/// Runs due mesh work now; returns the next deadline in board milliseconds (`UINT64_MAX`:
/// none). Bare-metal boards call it from their poll hook.
#[no_mangle]
pub extern "C" fn pymesh_poll() -> u64 {
    poll()
}
