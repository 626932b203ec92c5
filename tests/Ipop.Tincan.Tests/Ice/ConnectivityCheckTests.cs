using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Ice;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.DataPlane;

namespace Ipop.Tincan.Tests.Ice;

/// <summary>Connectivity checks between real nodes on 127.0.0.1: authentication of checks and the handshake on the chosen pair.</summary>
public sealed class ConnectivityCheckTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Check(string username, string password, StunTransactionId id) =>
        Check(username, StunCredentialKeys.ShortTerm(password), id);

    private static byte[] Check(string username, byte[] key, StunTransactionId id)
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, id);
        writer.AppendString(StunAttributeType.Username, username);
        writer.AppendUInt32(StunAttributeType.Priority, Candidate.ComputePriority(CandidateType.PeerReflexive, 65535));
        writer.AppendUInt64(StunAttributeType.IceControlled, 42);
        writer.AppendMessageIntegrity(key);
        writer.AppendFingerprint();
        return buffer[..writer.Length];
    }

    private static byte[]? Receive(UdpClient client, int milliseconds)
    {
        client.Client.ReceiveTimeout = milliseconds;
        try
        {
            IPEndPoint? from = null;
            return client.Receive(ref from);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    // The next STUN response, skipping the node's own (triggered) check requests to us.
    private static byte[]? ReceiveResponse(UdpClient client, int milliseconds)
    {
        DateTime deadline = DateTime.UtcNow.AddMilliseconds(milliseconds);
        while (DateTime.UtcNow < deadline)
        {
            byte[]? datagram = Receive(client, Math.Max(1, (int)(deadline - DateTime.UtcNow).TotalMilliseconds));
            if (datagram is null)
            {
                return null;
            }

            if (StunMessage.TryParse(datagram, out StunMessage m) == StunParseError.None && m.Class != StunMessageClass.Request)
            {
                return datagram;
            }
        }

        return null;
    }

    [Fact]
    public async Task A_check_is_answered_only_when_it_names_a_linked_peer_and_carries_the_right_integrity()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();

        // B links to A (whose descriptor points at a port nobody answers, so no real checks interfere).
        using var nowhere = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        b.Tincan.CreateLink(a.Id, ofA with { Candidates = [new Candidate(CandidateType.Host, (IPEndPoint)nowhere.Client.LocalEndPoint!, 1, "x")] });
        using var peer = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        IPEndPoint bAt = b.Manager.LocalHostCandidate!.EndPoint;
        var to = new IPEndPoint(IPAddress.Loopback, bAt.Port);

        // Right username and the A-B link's key (which only A and B can derive): a success response that B
        // authenticates with the same key, telling us the address B saw (our peer-reflexive address in a NAT).
        CheckKeys keys = CheckKeys.TryDerive(a.Manager.Keys, ofB.Key, ofA.CheckUsername, ofA.CheckPassword, ofB.CheckUsername, ofB.CheckPassword)!;
        var id = StunTransactionId.NewRandom();
        peer.Send(Check($"{ofB.CheckUsername}:{ofA.CheckUsername}", keys.Outbound, id), to);
        byte[]? answer = ReceiveResponse(peer, 2000);
        Assert.NotNull(answer);
        Assert.Equal(StunParseError.None, StunMessage.TryParse(answer, out StunMessage response));
        Assert.Equal(StunMessageClass.SuccessResponse, response.Class);
        Assert.Equal(id, response.TransactionId);
        Assert.True(response.VerifyMessageIntegrity(keys.Outbound));
        Assert.True(response.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped));
        Assert.Equal(((IPEndPoint)peer.Client.LocalEndPoint!).Port, mapped!.Port);

        // Wrong key (B's password, the key plain ICE would use): dropped silently and counted.
        long authFailures = b.Manager.Drops.Get(DropReason.CheckNotAuthenticated);
        peer.Send(Check($"{ofB.CheckUsername}:{ofA.CheckUsername}", ofB.CheckPassword, StunTransactionId.NewRandom()), to);
        Assert.Null(ReceiveResponse(peer, 300));
        Assert.Equal(authFailures + 1, b.Manager.Drops.Get(DropReason.CheckNotAuthenticated));

        // A sender B has no link to: dropped and counted, whatever the integrity.
        long unknown = b.Manager.Drops.Get(DropReason.UnknownKey);
        peer.Send(Check($"{ofB.CheckUsername}:stranger", keys.Outbound, StunTransactionId.NewRandom()), to);
        Assert.Null(ReceiveResponse(peer, 300));
        Assert.Equal(unknown + 1, b.Manager.Drops.Get(DropReason.UnknownKey));
        Assert.Equal(LinkState.Connecting, b.LinkTo(a).Status.State);
    }

    [Fact]
    public async Task Checks_pick_the_pair_that_answers_and_the_first_initiation_goes_only_there()
    {
        await using TestNode first = await TestNode.StartAsync("A");
        await using TestNode second = await TestNode.StartAsync("B");

        // A is the controlling side (lower key): it nominates and sends the first initiation.
        (TestNode a, TestNode b) = first.Manager.LocalKey.Bytes.SequenceCompareTo(second.Manager.LocalKey.Bytes) < 0 ? (first, second) : (second, first);
        LinkDescriptor ofA = await a.DescriptorAsync();
        LinkDescriptor ofB = await b.DescriptorAsync();

        // A also learns a decoy candidate for B with a higher priority than B's real one: a socket that records
        // everything and answers nothing.
        using var decoy = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var decoyCandidate = new Candidate(CandidateType.Host, (IPEndPoint)decoy.Client.LocalEndPoint!, uint.MaxValue >> 1, "decoy");
        a.Tincan.CreateLink(b.Id, ofB with { Candidates = [decoyCandidate, .. ofB.Candidates] });
        b.Tincan.CreateLink(a.Id, ofA);
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, "connected");

        CandidatePair? selected = ((TincanLink)a.LinkTo(b)).SelectedPair;
        Assert.NotNull(selected);
        Assert.Equal(b.Manager.LocalHostCandidate!.EndPoint.Port, selected.Remote.EndPoint.Port);

        var kinds = new List<byte>();
        while (Receive(decoy, 200) is { } datagram)
        {
            kinds.Add(datagram[0]);
        }

        Assert.Contains(kinds, k => k < 4); // the decoy was checked (STUN) ...
        Assert.DoesNotContain((byte)MessageType.HandshakeInitiation, kinds); // ... but got no handshake
        Assert.Equal(1, a.LinkTo(b).GetStats().Handshakes);
    }
}
