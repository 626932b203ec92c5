namespace Ipop;

/// <summary>
/// A long-running VPN policy: from signaling and link events it decides which links exist and how
/// packets map to links. GroupVPN and SocialVPN are two controllers; you can write your own.
/// </summary>
public interface IController
{
    /// <summary>Runs the controller until <paramref name="cancellationToken"/> is cancelled, then removes its links.</summary>
    Task RunAsync(CancellationToken cancellationToken);
}
