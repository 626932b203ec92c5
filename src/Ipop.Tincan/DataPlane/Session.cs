using Ipop.Tincan.Crypto;
using NSec.Cryptography;

namespace Ipop.Tincan.DataPlane;

/// <summary>Something a 32-bit receiver index points at: a finished session or a pending handshake.</summary>
internal abstract class IndexEntry
{
    protected IndexEntry(TincanLink link) => Link = link;

    public TincanLink Link { get; }

    /// <summary>Our random index, chosen when the entry is registered; the peer puts it in every message to us.</summary>
    public uint LocalIndex { get; set; }
}

/// <summary>An initiation we sent and whose response we wait for.</summary>
internal sealed class PendingHandshake : IndexEntry
{
    public PendingHandshake(TincanLink link, NoiseIKHandshake noise)
        : base(link) => Noise = noise;

    public NoiseIKHandshake Noise { get; }

    public long SentAt { get; set; }

    public byte[] Message { get; set; } = [];
}

/// <summary>
/// One pair of transport keys from one handshake: a send key with its counter, a receive key with its replay
/// window. Links keep the current, previous (so packets in flight during a rekey still open) and next
/// (responder side, until the initiator proves it has the keys by sending) sessions, like WireGuard's keypairs.
/// </summary>
internal sealed class Session : IndexEntry
{
    private long _sendCounter = -1;

    public Session(TincanLink link, uint remoteIndex, Key sendKey, Key receiveKey, long created)
        : base(link)
    {
        RemoteIndex = remoteIndex;
        SendKey = sendKey;
        ReceiveKey = receiveKey;
        Created = created;
    }

    public uint RemoteIndex { get; }

    public Key SendKey { get; }

    public Key ReceiveKey { get; }

    /// <summary>Creation time (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long Created { get; }

    /// <summary>Responder only: when our response left (the first packet on the session comes back about one RTT later).</summary>
    public long ResponseSentAt { get; set; }

    /// <summary>Owned by the receive thread.</summary>
    public ReplayWindow Replay { get; } = new();

    /// <summary>Takes the next send counter (thread-safe).</summary>
    public ulong NextCounter() => (ulong)Interlocked.Increment(ref _sendCounter);
}
