namespace Ipop.Tincan.Diagnostics;

/// <summary>One echo through a link (see <see cref="LinkDiagnostics.EchoAsync"/>).</summary>
/// <param name="Replied">True when the reply came back in time.</param>
/// <param name="RoundTrip">Time to the reply, or null.</param>
/// <param name="Path">The path kind the request went out on (<see cref="LinkPath.None"/> when not sent).</param>
/// <param name="Local">This side's candidate of that path, or null.</param>
/// <param name="Remote">The peer's candidate of that path, or null.</param>
/// <param name="TurnServer">The TURN server (<c>address:port</c>) when the path is relayed, or null.</param>
/// <param name="ReplyRelayed">True when the reply came back through our TURN allocation.</param>
/// <param name="Error">Why there is no reply (one line), or null.</param>
public sealed record EchoResult(bool Replied, TimeSpan? RoundTrip, LinkPath Path, Candidate? Local, Candidate? Remote, string? TurnServer, bool ReplyRelayed, string? Error)
{
    internal static EchoResult NotSent(string why) => new(false, null, LinkPath.None, null, null, null, false, why);
}
