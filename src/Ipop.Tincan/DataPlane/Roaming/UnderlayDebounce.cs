namespace Ipop.Tincan.DataPlane.Roaming;

/// <summary>
/// Waits for a burst of address changes to settle before the node acts on it: a renumbering is a delete and an add,
/// DHCP and SLAAC add several addresses in a row, and Wi-Fi to wired brings one interface down and another up. Each
/// change pushes the deadline to <see cref="Quiet"/> after it, but never past <see cref="MaxDelay"/> after the first,
/// so a flapping interface cannot hold recovery back for long. Pure: the caller passes the clock in and arms a
/// one-shot timer for <see cref="DueAt"/>.
/// </summary>
internal sealed class UnderlayDebounce
{
    private long _firstAt;

    public UnderlayDebounce(long quiet, long maxDelay)
    {
        Quiet = quiet;
        MaxDelay = maxDelay;
    }

    /// <summary>How long no change must arrive before acting.</summary>
    public long Quiet { get; }

    /// <summary>The longest wait after the first change of a burst.</summary>
    public long MaxDelay { get; }

    /// <summary>When the pending burst is acted on; 0 when nothing is pending.</summary>
    public long DueAt { get; private set; }

    /// <summary>A change at <paramref name="now"/>; returns the new <see cref="DueAt"/>.</summary>
    public long OnChange(long now)
    {
        if (DueAt == 0)
        {
            _firstAt = now;
        }

        DueAt = Math.Min(now + Quiet, _firstAt + MaxDelay);
        return DueAt;
    }

    /// <summary>True (and the burst is done) when a pending burst is due at <paramref name="now"/>.</summary>
    public bool TryFire(long now)
    {
        if (DueAt == 0 || now < DueAt)
        {
            return false;
        }

        DueAt = 0;
        return true;
    }
}
