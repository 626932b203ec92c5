using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Ice;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.DataPlane;

namespace Ipop.Tincan.Tests.Ice;

/// <summary>
/// Per-link check keys (issue 13): only the two ends of a link can sign its connectivity checks, a peer that knows
/// both descriptors cannot forge checks or nominations for it, colliding usernames do not cross links, and forged
/// checks cost no budget.
/// </summary>
public sealed class CheckIntegrityTests
{
    private static byte[] Check(string username, byte[] key, StunTransactionId id, bool nominate = false)
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, id);
        writer.AppendString(StunAttributeType.Username, username);
        writer.AppendUInt32(StunAttributeType.Priority, Candidate.ComputePriority(CandidateType.PeerReflexive, 65535));
        writer.AppendUInt64(StunAttributeType.IceControlling, 1);
        if (nominate)
        {
            writer.AppendFlag(StunAttributeType.UseCandidate);
        }

        writer.AppendMessageIntegrity(key);
        writer.AppendFingerprint();
        return buffer[..writer.Length];
    }

    // The answer to transaction `id`, skipping anything else (the node's own triggered checks to us); false on timeout.
    private static bool AnswerTo(UdpClient client, StunTransactionId id, int milliseconds, out byte[]? raw)
    {
        raw = null;
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < milliseconds)
        {
            client.Client.ReceiveTimeout = Math.Max(1, milliseconds - (int)clock.ElapsedMilliseconds);
            byte[] datagram;
            try
            {
                IPEndPoint? from = null;
                datagram = client.Receive(ref from);
            }
            catch (SocketException)
            {
                return false;
            }

            if (StunMessage.TryParse(datagram, out StunMessage m) == StunParseError.None && m.Class != StunMessageClass.Request && m.TransactionId == id)
            {
                raw = datagram;
                return true;
            }
        }

        return false;
    }

    private static bool Answered(UdpClient client, IPEndPoint to, byte[] request, StunTransactionId id, byte[] verifyWith, int milliseconds = 2000)
    {
        client.Send(request, to);
        return AnswerTo(client, id, milliseconds, out byte[]? raw)
            && StunMessage.TryParse(raw, out StunMessage answer) == StunParseError.None
            && answer.VerifyMessageIntegrity(verifyWith);
    }

    private static IPEndPoint Loopback(TestNode node) => new(IPAddress.Loopback, node.Manager.LocalHostCandidate!.EndPoint.Port);

    private static Candidate Nowhere(UdpClient socket) => new(CandidateType.Host, (IPEndPoint)socket.Client.LocalEndPoint!, 1, "x");

    [Fact]
    public void Both_ends_derive_the_same_keys_per_direction_and_nobody_else_can()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        using StaticKeyPair c = StaticKeyPair.Generate();
        CheckKeys atA = CheckKeys.TryDerive(a, b.PublicKey, "ufragA", "passwordA-0123456789012", "ufragB", "passwordB-0123456789012")!;
        CheckKeys atB = CheckKeys.TryDerive(b, a.PublicKey, "ufragB", "passwordB-0123456789012", "ufragA", "passwordA-0123456789012")!;

        Assert.Equal(atA.Outbound, atB.Inbound);
        Assert.Equal(atA.Inbound, atB.Outbound);
        Assert.NotEqual(atA.Inbound, atA.Outbound); // a check cannot be reflected at its sender

        // C knows both descriptors (ufrags, passwords, public keys) but has only its own private key.
        CheckKeys atC = CheckKeys.TryDerive(c, b.PublicKey, "ufragA", "passwordA-0123456789012", "ufragB", "passwordB-0123456789012")!;
        Assert.NotEqual(atA.Outbound, atC.Outbound);

        // A new node run (fresh ufrag/password, same static keys) gets new keys.
        CheckKeys nextRun = CheckKeys.TryDerive(a, b.PublicKey, "ufragA2", "passwordA-0123456789012", "ufragB", "passwordB-0123456789012")!;
        Assert.NotEqual(atA.Outbound, nextRun.Outbound);
        CheckKeys otherPassword = CheckKeys.TryDerive(a, b.PublicKey, "ufragA", "passwordA-0123456789013", "ufragB", "passwordB-0123456789012")!;
        Assert.NotEqual(atA.Outbound, otherPassword.Outbound);
        Assert.Equal(CheckKeys.KeyLength, atA.Outbound.Length);
    }

    [Fact]
    public void A_low_order_peer_key_gives_no_keys()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        Assert.Null(CheckKeys.TryDerive(a, new NodePublicKey(new byte[32]), "ufragA", "passwordA", "ufragB", "passwordB"));
    }

    [Fact]
    public async Task A_third_peer_that_knows_both_descriptors_cannot_forge_checks_or_nominations_for_their_link()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await using TestNode c = await TestNode.StartAsync("C");
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();
        LinkDescriptor ofC = await c.DescriptorAsync();

        // B links to A (at a port nobody answers, so only our checks reach the link) and to C, an insider.
        using var nowhere = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        b.Tincan.CreateLink(a.Id, ofA with { Candidates = [Nowhere(nowhere)] });
        b.Tincan.CreateLink(c.Id, ofC with { Candidates = [Nowhere(nowhere)] });
        using var forger = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        IPEndPoint to = Loopback(b);
        string aToB = $"{ofB.CheckUsername}:{ofA.CheckUsername}";
        long before = b.Manager.Drops.Get(DropReason.CheckNotAuthenticated);

        // What C can compute: plain ICE's key (B's password, in B's descriptor), A's password, and keys from its own
        // static secret with B mixed with every credential it knows. None is the A-B key.
        byte[][] forgeries =
        [
            StunCredentialKeys.ShortTerm(ofB.CheckPassword),
            StunCredentialKeys.ShortTerm(ofA.CheckPassword),
            CheckKeys.TryDerive(c.Manager.Keys, ofB.Key, ofA.CheckUsername, ofA.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!.Outbound,
            CheckKeys.TryDerive(c.Manager.Keys, ofB.Key, ofC.CheckUsername, ofC.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!.Outbound,
        ];
        foreach (byte[] key in forgeries)
        {
            foreach (bool nominate in new[] { false, true })
            {
                var id = StunTransactionId.NewRandom();
                forger.Send(Check(aToB, key, id, nominate), to);
                Assert.False(AnswerTo(forger, id, 300, out _));
            }
        }

        Assert.Equal(before + (forgeries.Length * 2), b.Manager.Drops.Get(DropReason.CheckNotAuthenticated));
        Assert.Null(((TincanLink)b.LinkTo(a)).SelectedPair);
        Assert.Equal(LinkState.Connecting, b.LinkTo(a).Status.State);

        // The genuine key (A's private key with B's public key) is answered, from the same socket: the test can fail.
        CheckKeys genuine = CheckKeys.TryDerive(a.Manager.Keys, ofB.Key, ofA.CheckUsername, ofA.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        var good = StunTransactionId.NewRandom();
        Assert.True(Answered(forger, to, Check(aToB, genuine.Outbound, good, nominate: true), good, genuine.Outbound), "a genuine check of A is answered");

        // C's checks of its own link still work.
        CheckKeys ofCLink = CheckKeys.TryDerive(c.Manager.Keys, ofB.Key, ofC.CheckUsername, ofC.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        var own = StunTransactionId.NewRandom();
        Assert.True(Answered(forger, to, Check($"{ofB.CheckUsername}:{ofC.CheckUsername}", ofCLink.Outbound, own), own, ofCLink.Outbound), "C's own checks are answered");
    }

    [Fact]
    public async Task Checks_from_two_peers_with_the_same_username_each_reach_their_own_link()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();
        using StaticKeyPair c = StaticKeyPair.Generate();
        using StaticKeyPair d = StaticKeyPair.Generate();

        // C presents A's username (chance, or copying A's descriptor) with its own key and password; linked first and
        // last so that a lookup by username alone finds the wrong link whichever way it walks the table.
        using var nowhere = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        const string cPassword = "c-password-0123456789012345";
        b.Tincan.CreateLink(new PeerId("C"), new LinkDescriptor(c.PublicKey, [Nowhere(nowhere)], ofA.CheckUsername, cPassword));
        b.Tincan.CreateLink(a.Id, ofA with { Candidates = [Nowhere(nowhere)] });
        b.Tincan.CreateLink(new PeerId("D"), new LinkDescriptor(d.PublicKey, [Nowhere(nowhere)], ofA.CheckUsername, cPassword));

        CheckKeys aKeys = CheckKeys.TryDerive(a.Manager.Keys, ofB.Key, ofA.CheckUsername, ofA.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        CheckKeys cKeys = CheckKeys.TryDerive(c, ofB.Key, ofA.CheckUsername, cPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        using var peer = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        string username = $"{ofB.CheckUsername}:{ofA.CheckUsername}";
        long rejected = b.Manager.Drops.Get(DropReason.CheckNotAuthenticated);

        // Each check is answered with the key of its own link (B signs its answer with the link it chose).
        for (int i = 0; i < 3; i++)
        {
            var idA = StunTransactionId.NewRandom();
            Assert.True(Answered(peer, Loopback(b), Check(username, aKeys.Outbound, idA), idA, aKeys.Outbound), "A's check reaches B's link to A");
            var idC = StunTransactionId.NewRandom();
            Assert.True(Answered(peer, Loopback(b), Check(username, cKeys.Outbound, idC), idC, cKeys.Outbound), "C's check reaches B's link to C");
        }

        Assert.Equal(rejected, b.Manager.Drops.Get(DropReason.CheckNotAuthenticated));
    }

    [Fact]
    public async Task A_flood_of_forged_checks_costs_no_budget_and_genuine_checks_are_still_answered()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();
        using var nowhere = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        b.Tincan.CreateLink(a.Id, ofA with { Candidates = [Nowhere(nowhere)] });
        IPEndPoint to = Loopback(b);
        string username = $"{ofB.CheckUsername}:{ofA.CheckUsername}";
        CheckKeys genuine = CheckKeys.TryDerive(a.Manager.Keys, ofB.Key, ofA.CheckUsername, ofA.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        byte[] forged = Check(username, StunCredentialKeys.ShortTerm(ofB.CheckPassword), StunTransactionId.NewRandom());
        long rejectedBefore = b.Manager.Drops.Get(DropReason.CheckNotAuthenticated);

        // The flood names A's link (right username, wrong key) at well over the 500/s budget: at least 2 s and 3,000
        // checks, at most 8 s.
        using var flooder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        long sent = 0;
        Task flood = Task.Run(
            () =>
            {
                var clock = Stopwatch.StartNew();
                while ((clock.Elapsed < TimeSpan.FromSeconds(2) || sent < 3000) && clock.Elapsed < TimeSpan.FromSeconds(8) && !stop.IsCancellationRequested)
                {
                    for (int i = 0; i < 10; i++)
                    {
                        flooder.SendTo(forged, to);
                        sent++;
                    }

                    Thread.Sleep(1);
                }
            },
            TestContext.Current.CancellationToken);

        // Meanwhile A's genuine checks, one every 100 ms: every one is answered.
        using var peer = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int asked = 0, answered = 0;
        while (!flood.IsCompleted && asked < 40)
        {
            var id = StunTransactionId.NewRandom();
            asked++;
            if (Answered(peer, to, Check(username, genuine.Outbound, id), id, genuine.Outbound, milliseconds: 1000))
            {
                answered++;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        await flood;
        long rejected = b.Manager.Drops.Get(DropReason.CheckNotAuthenticated) - rejectedBefore;
        TestContext.Current.TestOutputHelper?.WriteLine($"flood: {sent} forged checks sent, {rejected} counted as not authenticated; genuine {answered}/{asked} answered");

        // The flood really exceeded the budget (more than 500 forged checks reached B within one second on average)...
        Assert.True(rejected > 1000, $"only {rejected} forged checks reached the node");
        Assert.Equal(0, b.Manager.Drops.Get(DropReason.CheckOverBudget));

        // ... and no genuine check was refused for it (one may be lost to a full socket buffer on a loaded machine).
        Assert.True(asked >= 5, $"only {asked} genuine checks during the flood");
        Assert.True(answered >= asked - 1, $"{answered} of {asked} genuine checks answered during the flood");
    }

    [Fact]
    public async Task A_forged_answer_to_our_check_neither_fails_the_pair_nor_hides_the_genuine_answer()
    {
        await using TestNode first = await TestNode.StartAsync("A");
        await using TestNode second = await TestNode.StartAsync("B");

        // A controls (lower key): it nominates and selects once a check of the pair succeeded. B itself stays silent;
        // the test answers A's checks at B's place from a socket of its own, knowing B's private key.
        (TestNode a, TestNode b) = first.Manager.LocalKey.Bytes.SequenceCompareTo(second.Manager.LocalKey.Bytes) < 0 ? (first, second) : (second, first);
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();
        using var asB = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        a.Tincan.CreateLink(b.Id, ofB with { Candidates = [Nowhere(asB)] });
        byte[] genuineKey = CheckKeys.TryDerive(b.Manager.Keys, ofA.Key, ofB.CheckUsername, ofB.CheckPassword, ofA.CheckUsername, ofA.CheckPassword)!.Inbound;
        byte[] forgedKey = StunCredentialKeys.ShortTerm(ofB.CheckPassword);
        long forgedBefore = a.Manager.Drops.Get(DropReason.CheckNotAuthenticated);

        // The first check gets a forged failure and a forged success first, then the genuine success; later checks
        // (the nomination) get genuine answers. Bounded: 5 s.
        bool forgedSent = false;
        byte[] answer = new byte[256];
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5) && ((TincanLink)a.LinkTo(b)).SelectedPair is null)
        {
            asB.Client.ReceiveTimeout = 200;
            byte[] datagram;
            IPEndPoint? from = null;
            try
            {
                datagram = asB.Receive(ref from);
            }
            catch (SocketException)
            {
                continue;
            }

            if (StunMessage.TryParse(datagram, out StunMessage check) != StunParseError.None || check.Class != StunMessageClass.Request)
            {
                continue;
            }

            if (!forgedSent)
            {
                forgedSent = true;
                byte[] failure = new byte[256];
                var writer = new StunMessageWriter(failure, StunMethod.Binding, StunMessageClass.ErrorResponse, check.TransactionId);
                writer.AppendErrorCode(StunErrorCodes.BadRequest, "Forged");
                writer.AppendMessageIntegrity(forgedKey);
                writer.AppendFingerprint();
                asB.Send(failure.AsSpan(0, writer.Length), from!);
                int forged = StunBindingResponder.WriteResponse(datagram, from!, answer, forgedKey);
                asB.Send(answer.AsSpan(0, forged), from!);
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }

            int length = StunBindingResponder.WriteResponse(datagram, from!, answer, genuineKey);
            asB.Send(answer.AsSpan(0, length), from!);
        }

        Assert.True(forgedSent, "A checked the candidate");
        CandidatePair? selected = ((TincanLink)a.LinkTo(b)).SelectedPair;
        Assert.NotNull(selected);
        Assert.Equal(((IPEndPoint)asB.Client.LocalEndPoint!).Port, selected.Remote.EndPoint.Port);
        Assert.Equal(forgedBefore + 2, a.Manager.Drops.Get(DropReason.CheckNotAuthenticated));
    }
}
