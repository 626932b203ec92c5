namespace Ipop.Tincan.DataPlane.Link;

/// <summary>What a <see cref="HandshakeSchedule.Tick"/> asks the link to do now (several may be set).</summary>
[Flags]
internal enum HandshakeStep
{
    /// <summary>Nothing is due.</summary>
    None = 0,

    /// <summary>Send the pending initiation's relayed copies: the direct candidates' head start is over.</summary>
    SprayRelayed = 1,

    /// <summary>No response in time: send a fresh initiation (new ephemeral key, index and timestamp).</summary>
    Retry = 2,

    /// <summary>The last attempt went unanswered: drop the pending initiation and report the link failed.</summary>
    GiveUp = 4,

    /// <summary>A deferred handshake is due (the peer did not start one, or the checks had their time): begin it.</summary>
    BeginDeferred = 8,
}
