namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// The timers of a link in <see cref="TimeProvider.GetTimestamp"/> ticks, derived once from <see cref="TincanOptions"/>
/// so that the link's state machines take plain numbers (and tests can build them without a node).
/// </summary>
internal sealed record LinkTimings
{
    /// <summary>Ticks per second of the clock the values are in.</summary>
    public required long Frequency { get; init; }

    /// <summary>Wait for a handshake response before the first retry (it doubles per retry, up to eight times).</summary>
    public required long HandshakeTimeout { get; init; }

    /// <summary>Initiations per handshake before the link gives up.</summary>
    public required int HandshakeAttempts { get; init; }

    /// <summary>The side that owns rekeying (the lower key) starts a new handshake when its session is this old.</summary>
    public required long RekeyAfterTime { get; init; }

    /// <summary>The other side rekeys at this age, in case the owner is gone.</summary>
    public required long FallbackRekeyAfter { get; init; }

    /// <summary>Sessions are not used past this age (WireGuard: 180 s for a 120 s rekey).</summary>
    public required long RejectAfter { get; init; }

    /// <summary>Sent messages on one session after which either side asks for a new one.</summary>
    public required long RekeyAfterMessages { get; init; }

    /// <summary>Persistent keepalive: nothing sent for this long sends an empty packet.</summary>
    public required long Keepalive { get; init; }

    /// <summary>A peer that received data and sent nothing for this long (half the handshake timeout) sends a keepalive.</summary>
    public required long PassiveKeepalive { get; init; }

    /// <summary>Nothing heard for this long (three keepalives and a handshake timeout) means the path in use is dead.</summary>
    public required long DeadPeer { get; init; }

    /// <summary>
    /// Data sent and nothing at all heard back for this long (twice the handshake timeout) means the path in use is
    /// broken: a new handshake goes out over every path, the relay included. WireGuard's rule (keepalive + rekey
    /// timeout, 15 s) scaled down, because a peer that receives data answers within <see cref="PassiveKeepalive"/>.
    /// </summary>
    public required long Unanswered { get; init; }

    /// <summary>
    /// A direct path silent for longer than a keepalive interval plus a handshake timeout has failed: data arriving
    /// through the relay then moves the link there (a handshake through the relay does so after one handshake timeout).
    /// </summary>
    public required long DirectSilence { get; init; }

    /// <summary>
    /// How long the first handshake waits for the connectivity checks to choose a pair (the handshake timeout, at most
    /// 1 s); after that it goes to every candidate path, so a peer that cannot answer checks still links.
    /// </summary>
    public required long IceWait { get; init; }

    /// <summary>
    /// The wait before the first retry of an initiation (a quarter of the handshake timeout, at most 250 ms, at least a
    /// tick): a lost initiation or response is retried within a round trip or two instead of a whole handshake timeout.
    /// See <see cref="HandshakeSchedule"/> for the early retries this starts.
    /// </summary>
    public long FirstRetry => Math.Max(1, Math.Min(HandshakeTimeout / 4, Frequency / 4));

    /// <summary>Longest wait between retries (and between probes of direct candidates while relayed).</summary>
    public long MaxBackoff => HandshakeTimeout * 8;

    /// <summary>
    /// The head start of direct candidates on a first attempt (half a handshake timeout, at most 250 ms) before the
    /// relayed copies go out, so a relay, which answers whenever it is configured, does not win a race a direct pair
    /// would have won (RFC 8445 section 6.1.4.2 paces checks by priority for the same reason).
    /// </summary>
    public long RelayHeadStart => Math.Max(1, Math.Min(HandshakeTimeout / 2, Frequency / 4));

    /// <summary>The timings of <paramref name="options"/> on a clock of <paramref name="frequency"/> ticks per second.</summary>
    public static LinkTimings From(TincanOptions options, long frequency)
    {
        ArgumentNullException.ThrowIfNull(options);

        // Sessions are not used past RejectAfter (WireGuard: 180 s for a 120 s rekey); the side that does not own
        // rekeying rekeys itself halfway between, in case the owner is gone.
        TimeSpan rejectAfter = options.RekeyAfterTime + TimeSpan.FromTicks(Math.Max(options.RekeyAfterTime.Ticks / 2, options.HandshakeTimeout.Ticks * 4));
        TimeSpan fallbackRekey = options.RekeyAfterTime + TimeSpan.FromTicks(Math.Min(options.HandshakeTimeout.Ticks * 3, (rejectAfter - options.RekeyAfterTime).Ticks / 2));
        return new LinkTimings
        {
            Frequency = frequency,
            HandshakeTimeout = Ticks(options.HandshakeTimeout, frequency),
            HandshakeAttempts = options.HandshakeAttempts,
            RekeyAfterTime = Ticks(options.RekeyAfterTime, frequency),
            FallbackRekeyAfter = Ticks(fallbackRekey, frequency),
            RejectAfter = Ticks(rejectAfter, frequency),
            RekeyAfterMessages = options.RekeyAfterMessages,
            Keepalive = Ticks(options.KeepaliveInterval, frequency),
            PassiveKeepalive = Ticks(options.HandshakeTimeout / 2, frequency),
            DeadPeer = Ticks((options.KeepaliveInterval * 3) + options.HandshakeTimeout, frequency),
            Unanswered = Ticks(options.HandshakeTimeout * 2, frequency),
            DirectSilence = Ticks(options.KeepaliveInterval + options.HandshakeTimeout, frequency),
            IceWait = Ticks(options.HandshakeTimeout < TimeSpan.FromSeconds(1) ? options.HandshakeTimeout : TimeSpan.FromSeconds(1), frequency),
        };
    }

    private static long Ticks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);
}
