namespace Ipop.Tincan.DataPlane.Link;

/// <summary>What <see cref="LinkLiveness"/> found due for the current session.</summary>
/// <param name="Expired">The session is too old to use: drop it and handshake again.</param>
/// <param name="Rekey">Old enough for this side to start a new handshake.</param>
/// <param name="Keepalive">Send an empty packet now (persistent or passive keepalive).</param>
/// <param name="Broken">Nothing heard for too long: handshake over every path to find one that works.</param>
/// <param name="Silent">How long nothing has been heard, in ticks (for the log).</param>
internal readonly record struct LivenessVerdict(bool Expired, bool Rekey, bool Keepalive, bool Broken, long Silent);
