namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// Whether this node is under handshake load (wireguard-go's <c>IsUnderLoad</c>): the handshake queue is at least an
/// eighth full, or was within the last second. Under load, handshake messages must carry a valid mac2 (else they get a
/// cookie reply) and are rate-limited per address. The second of hysteresis keeps a flood that the cookies just
/// drained from being let back into the queue at once. Thread-safe.
/// </summary>
internal sealed class HandshakeLoad(TimeProvider time, int threshold)
{
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(1);
    private long _lastLoaded;

    /// <summary>Tests: behave as if always under load.</summary>
    public bool Forced { get; set; }

    /// <summary>Decides for one message, given how many handshake messages wait now.</summary>
    public bool IsUnderLoad(int waiting)
    {
        if (Forced)
        {
            return true;
        }

        if (waiting >= threshold)
        {
            Volatile.Write(ref _lastLoaded, time.GetTimestamp());
            return true;
        }

        long last = Volatile.Read(ref _lastLoaded);
        return last != 0 && time.GetElapsedTime(last) < Hold;
    }
}
