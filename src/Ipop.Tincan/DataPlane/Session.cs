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
/// <remarks>
/// Packet threads (the interface's send thread, the socket's receive thread) use the keys without a lock, through a
/// session they read from the link's snapshot or the index table, while the control loop may retire the session at
/// any moment: each key is a <see cref="GuardedKey"/>, zeroed and freed at the retirement or by the last use in flight
/// after it, never under a use, and not left to a finalizer that a data path that does not allocate rarely runs.
/// </remarks>
internal sealed class Session : IndexEntry
{
    private readonly GuardedKey _send;
    private readonly GuardedKey _receive;
    private long _sendCounter = -1;

    public Session(TincanLink link, uint remoteIndex, Key sendKey, Key receiveKey, long created)
        : base(link)
    {
        RemoteIndex = remoteIndex;
        _send = new GuardedKey(sendKey);
        _receive = new GuardedKey(receiveKey);
        Created = created;
    }

    public uint RemoteIndex { get; }

    /// <summary>Creation time (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long Created { get; }

    /// <summary>Responder only: when our response left (the first packet on the session comes back about one RTT later).</summary>
    public long ResponseSentAt { get; set; }

    /// <summary>Owned by the receive thread.</summary>
    public ReplayWindow Replay { get; } = new();

    /// <summary>True once <see cref="Retire"/> ran (the keys are freed, or will be when the last use in flight ends).</summary>
    public bool IsRetired => _send.IsRetired;

    /// <summary>True once both keys are zeroed and freed.</summary>
    public bool KeysDisposed => _send.IsDisposed && _receive.IsDisposed;

    /// <summary>The send key's guard (tests hold a use open through it).</summary>
    internal GuardedKey SendKey => _send;

    /// <summary>Takes the next send counter (thread-safe).</summary>
    public ulong NextCounter() => (ulong)Interlocked.Increment(ref _sendCounter);

    /// <summary>Any thread: seals with the send key (see <see cref="TransportCipher.Seal"/>).</summary>
    /// <returns><c>false</c> when the session was retired meanwhile: nothing was written, the packet has no session.</returns>
    public bool TrySeal(ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (!_send.TryEnter())
        {
            return false;
        }

        try
        {
            TransportCipher.Seal(_send.Key, counter, associatedData, plaintext, ciphertext);
            return true;
        }
        finally
        {
            _send.Exit();
        }
    }

    /// <summary>Any thread: opens with the receive key (see <see cref="TransportCipher.Open"/>).</summary>
    /// <returns>Whether the packet opened, or that the session was retired meanwhile (nothing was read).</returns>
    public SessionOpenResult TryOpen(ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (!_receive.TryEnter())
        {
            return SessionOpenResult.Retired;
        }

        try
        {
            return TransportCipher.Open(_receive.Key, counter, associatedData, ciphertext, plaintext) ? SessionOpenResult.Opened : SessionOpenResult.Failed;
        }
        finally
        {
            _receive.Exit();
        }
    }

    /// <summary>
    /// Control loop, after the session left the index table and the link's views: frees the keys now, or each when
    /// the last packet thread using it is done. Idempotent.
    /// </summary>
    public void Retire()
    {
        _send.Retire();
        _receive.Retire();
    }
}
