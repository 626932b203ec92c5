using Ipop;
using Ipop.Controllers;
using Ipop.Testing;
using Ipop.Xmpp;

namespace ReadmeExample.Snippets;

// The C# blocks of docs/custom-controllers.md: compiled here, each doc block is checked against its region.

// <snippet:kit-policy>
internal sealed class AllowListPolicy(IEnumerable<string> users) : ILinkPolicy
{
    private readonly HashSet<string> _users = new(users, StringComparer.OrdinalIgnoreCase);

    public bool IsTrusted(OverlayPeer peer) => peer.Presence == PeerPresence.Online && _users.Contains(peer.User);
}
// </snippet:kit-policy>

/// <summary>The statements of docs/custom-controllers.md, in the methods they would sit in.</summary>
internal static class CustomControllerSnippets
{
    public static async Task RunAsync(IOverlaySignaling signaling, ITincan tincan, CancellationToken stoppingToken)
    {
        // <snippet:kit-run>
        var negotiator = new LinkNegotiator(signaling, tincan, new AllowListPolicy(["bob@example.org"]));
        await negotiator.RunAsync(stoppingToken);   // until cancelled; then every link it made is removed
        // </snippet:kit-run>
    }

    public static async Task<Task[]> SelfTestAsync()
    {
        // <snippet:kit-selftest>
        var signaling = new InMemorySignalingNetwork();
        var links = new FakeTincanNetwork();
        string[] users = ["alice@example.org", "bob@example.org"];
        InMemorySignaling[] nodes = [.. users.Select(u => signaling.CreateNode(u, FriendRequestPolicy.AcceptListed, users))];
        LinkNegotiator[] negotiators = [.. nodes.Select(n => new LinkNegotiator(n, links.CreateNode(n.LocalId), new AllowListPolicy(users)))];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task[] runs = [.. negotiators.Select(n => n.RunAsync(stop.Token))];
        await Task.WhenAll(negotiators.Select(n => n.Ready));
        await nodes[0].RequestFriendshipAsync(users[1], stop.Token);
        await links.WaitUntilAsync(() => links.AreLinked(nodes[0].LocalId, nodes[1].LocalId), stop.Token);
        // </snippet:kit-selftest>
        return runs;
    }
}
