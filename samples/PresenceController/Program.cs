using Ipop;
using Ipop.Testing;
using Ipop.Xmpp;

// Self-test on Ipop.Testing: in-memory signaling and fake Tincan links, no sockets, no sleeps. alice, bob and carol are
// friends and available: all three pairs link. carol goes "away": her links go, alice-bob stays. She is back: they return.
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
string[] users = ["alice@example.org", "bob@example.org", "carol@example.org"];
var signaling = new InMemorySignalingNetwork();
var links = new FakeTincanNetwork();
InMemorySignaling[] nodes = [.. users.Select(u => signaling.CreateNode(u, FriendRequestPolicy.AcceptListed, users))];
PresenceController[] controllers = [.. nodes.Select(n => new PresenceController(n, links.CreateNode(n.LocalId)))];
Task[] runs = [.. controllers.Select(c => c.RunAsync(stop.Token))];
await Task.WhenAll(controllers.Select(c => c.Ready)).WaitAsync(timeout.Token);
await nodes[0].RequestFriendshipAsync(users[1], timeout.Token);
await nodes[0].RequestFriendshipAsync(users[2], timeout.Token);
await nodes[1].RequestFriendshipAsync(users[2], timeout.Token);

PeerId a = nodes[0].LocalId, b = nodes[1].LocalId, c = nodes[2].LocalId;
bool NoLink(PeerId x, PeerId y) => !links.Nodes.Single(n => n.Id == x).TryGetLink(y, out _) && !links.Nodes.Single(n => n.Id == y).TryGetLink(x, out _);
async Task<bool> Reaches(string what, Func<bool> condition)
{
    await links.WaitUntilAsync(condition, timeout.Token);
    await signaling.WhenDeliveredAsync();   // and it holds once everything in flight has been handled
    await Task.WhenAll(controllers.Select(x => x.WhenIdleAsync()));
    Console.WriteLine($"{what}: {(condition() ? "yes" : "NO")}");
    return condition();
}

bool ok = await Reaches("all three linked", () => links.AreLinked(a, b) && links.AreLinked(a, c) && links.AreLinked(b, c));
controllers[2].SetStatus("away");
ok &= await Reaches("carol away: only alice-bob linked", () => links.AreLinked(a, b) && NoLink(a, c) && NoLink(b, c));
controllers[2].SetStatus(PresenceController.Available);
ok &= await Reaches("carol back: all three linked", () => links.AreLinked(a, b) && links.AreLinked(a, c) && links.AreLinked(b, c));

await stop.CancelAsync();
await Task.WhenAll(runs).ContinueWith(_ => { }, TaskScheduler.Default); // they end cancelled, links removed
int left = links.Nodes.Sum(n => n.Links.Count);
Console.WriteLine($"links left after stop: {left}");
ok &= left == 0;
Console.WriteLine(ok ? "presence controller: OK" : "presence controller: FAILED");
return ok ? 0 : 1;
