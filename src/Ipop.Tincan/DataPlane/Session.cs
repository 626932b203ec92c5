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
/// any moment. Each use therefore enters and leaves (two interlocked operations, no allocation), and
/// <see cref="Retire"/> marks the session: the keys are zeroed and freed (NSec <see cref="Key.Dispose"/>) by whichever
/// comes last, the retirement or the last use in flight. A use that starts after the retirement is refused instead
/// of touching a freed key, so no packet thread ever sees <see cref="ObjectDisposedException"/>, and a retired key
/// does not wait in memory for a finalizer that a data path that does not allocate rarely runs.
/// </remarks>
internal sealed class Session : IndexEntry
{
    // Added to the user count once by Retire: far above any number of threads using the session at once.
    private const int RetiredFlag = 1 << 30;

    private readonly Key _sendKey;
    private readonly Key _receiveKey;
    private long _sendCounter = -1;
    private int _users;
    private int _disposed;

    public Session(TincanLink link, uint remoteIndex, Key sendKey, Key receiveKey, long created)
        : base(link)
    {
        RemoteIndex = remoteIndex;
        _sendKey = sendKey;
        _receiveKey = receiveKey;
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
    public bool IsRetired => Volatile.Read(ref _users) >= RetiredFlag;

    /// <summary>True once both keys are zeroed and freed.</summary>
    public bool KeysDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Takes the next send counter (thread-safe).</summary>
    public ulong NextCounter() => (ulong)Interlocked.Increment(ref _sendCounter);

    /// <summary>Any thread: seals with the send key (see <see cref="TransportCipher.Seal"/>).</summary>
    /// <returns><c>false</c> when the session was retired meanwhile: nothing was written, the packet has no session.</returns>
    public bool TrySeal(ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (!TryEnter())
        {
            return false;
        }

        try
        {
            TransportCipher.Seal(_sendKey, counter, associatedData, plaintext, ciphertext);
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Any thread: opens with the receive key (see <see cref="TransportCipher.Open"/>).</summary>
    /// <returns>Whether the packet opened, or that the session was retired meanwhile (nothing was read).</returns>
    public SessionOpenResult TryOpen(ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (!TryEnter())
        {
            return SessionOpenResult.Retired;
        }

        try
        {
            return TransportCipher.Open(_receiveKey, counter, associatedData, ciphertext, plaintext) ? SessionOpenResult.Opened : SessionOpenResult.Failed;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Control loop, after the session left the index table and the link's views: frees the keys now, or when the
    /// last packet thread using them is done. Idempotent.
    /// </summary>
    public void Retire()
    {
        int users = Volatile.Read(ref _users);
        while (users < RetiredFlag)
        {
            int seen = Interlocked.CompareExchange(ref _users, users + RetiredFlag, users);
            if (seen == users)
            {
                if (users == 0)
                {
                    DisposeKeys();
                }

                return;
            }

            users = seen;
        }
    }

    /// <summary>Starts a use of the keys (<see cref="TrySeal"/> and <see cref="TryOpen"/> do it; tests hold one open).</summary>
    /// <returns><c>false</c> when the session is retired: the caller must not use the keys, nor call <see cref="Exit"/>.</returns>
    internal bool TryEnter()
    {
        if (Interlocked.Increment(ref _users) < RetiredFlag)
        {
            return true;
        }

        Exit();
        return false;
    }

    /// <summary>Ends a use started by a successful <see cref="TryEnter"/>.</summary>
    internal void Exit()
    {
        // The last use after the retirement frees the keys (a refused TryEnter may get here too: the flag makes it once).
        if (Interlocked.Decrement(ref _users) == RetiredFlag)
        {
            DisposeKeys();
        }
    }

    private void DisposeKeys()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // NSec keeps keys in libsodium's guarded memory, which sodium_free zeroes before it unmaps it.
            _sendKey.Dispose();
            _receiveKey.Dispose();
        }
    }
}
