namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// The sample Python controller against two in-process servers whose fake Tincans connect a link only when both
/// sides authorized each other's key, so a controller that swaps or garbles descriptors cannot pass.
/// </summary>
public sealed class PythonControllerTests
{
    private static async Task<(ApiHarness A, ApiHarness B)> StartPairAsync()
    {
        var a = new FakeTincan(1) { NameOnPartner = new PeerId("alice") };
        var b = new FakeTincan(2) { NameOnPartner = new PeerId("bob") };
        a.Partner = b;
        b.Partner = a;
        return (await ApiHarness.StartAsync(tincan: a), await ApiHarness.StartAsync(tincan: b));
    }

    [Fact]
    public async Task Python_controller_pairs_two_nodes_until_both_links_are_connected()
    {
        Assert.SkipUnless(PythonController.Python is not null, "python3 is not installed");
        (ApiHarness a, ApiHarness b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            (int exit, string stdout, string stderr) = await PythonController.RunAsync(
                ["pair", "--a", a.SocketPath, "--b", b.SocketPath, "--a-id", "alice", "--b-id", "bob", "--a-address", "198.19.0.1/24", "--b-address", "198.19.0.2/24", "--timeout", "20"],
                TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Contains("both links connected", stdout, StringComparison.Ordinal);

            Assert.Equal(["198.19.0.1/24"], a.Interfaces!.Created.Single().Addresses.Select(x => x.ToString()));
            Assert.Equal(["198.19.0.2/24"], b.Interfaces!.Created.Single().Addresses.Select(x => x.ToString()));
            Assert.Equal(LinkState.Connected, a.Tincan.Link("bob").Status.State);
            Assert.Equal(LinkState.Connected, b.Tincan.Link("alice").Status.State);
            Assert.Equal(b.Tincan.LocalKey, a.Tincan.Link("bob").PeerKey);
            Assert.Equal(b.Tincan.Descriptor.ToJson(), a.Tincan.CreateLinkCalls.Single().Remote.ToJson());
            Assert.Equal(a.Tincan.Descriptor.ToJson(), b.Tincan.CreateLinkCalls.Single().Remote.ToJson());
            IPacketRouter routerA = a.Tincan.Attached.Single().Router;
            Assert.Same(a.Tincan.Link("bob"), routerA.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.2")).Link);
            Assert.Equal(RouteAction.Drop, routerA.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Action);
            IPacketRouter routerB = b.Tincan.Attached.Single().Router;
            Assert.Same(b.Tincan.Link("alice"), routerB.RouteOutbound(Packets.Ipv4("198.19.0.2", "198.19.0.1")).Link);
        }
    }

    [Fact]
    public async Task Python_controller_reports_links_that_never_connect_and_fails()
    {
        Assert.SkipUnless(PythonController.Python is not null, "python3 is not installed");
        (ApiHarness a, ApiHarness b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            // B knows A as "alice", but this controller tells B the peer is "mallory": the fakes never connect.
            (int exit, string stdout, string stderr) = await PythonController.RunAsync(
                ["pair", "--a", a.SocketPath, "--b", b.SocketPath, "--a-id", "mallory", "--b-id", "bob", "--timeout", "1"],
                TimeSpan.FromSeconds(60));
            Assert.Equal(1, exit);
            Assert.Contains("links not connected in time", stderr, StringComparison.Ordinal);
            Assert.Contains($"{a.SocketPath}: bob: connecting", stdout, StringComparison.Ordinal);
            Assert.Contains($"{b.SocketPath}: mallory: connecting", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Python_controller_surfaces_api_errors_with_their_code()
    {
        Assert.SkipUnless(PythonController.Python is not null, "python3 is not installed");
        (ApiHarness a, ApiHarness b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            TestClient owner = await b.ConnectAsync();
            await owner.OkAsync("session.claim");
            (int exit, _, string stderr) = await PythonController.RunAsync(["pair", "--a", a.SocketPath, "--b", b.SocketPath, "--timeout", "5"], TimeSpan.FromSeconds(60));
            Assert.Equal(1, exit);
            Assert.Contains("session.claim: not_owner: Session 1 controls this Tincan", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Python_client_unit_tests_pass()
    {
        Assert.SkipUnless(PythonController.Python is not null, "python3 is not installed");
        (int exit, string stdout, string stderr) = await PythonController.RunPythonAsync(["-m", "unittest", "-v", "test_ipop_controller"], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        // Every test method in the file ran: a test that unittest could not collect (a typo in its name, a class
        // that stopped deriving TestCase) would otherwise pass silently. Counted, not hard-coded, so adding a test
        // to the Python file does not need a change here.
        string source = File.ReadAllText(Path.Combine(Path.GetDirectoryName(PythonController.ScriptPath())!, "test_ipop_controller.py"));
        int defined = System.Text.RegularExpressions.Regex.Count(source, @"^\s+def test_", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(defined > 0, "no test_ methods found in test_ipop_controller.py");
        Assert.Contains($"Ran {defined} tests", stderr, StringComparison.Ordinal);
    }
}
