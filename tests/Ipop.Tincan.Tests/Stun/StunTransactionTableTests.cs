using System.Net;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Stun;

public sealed class StunTransactionTableTests
{
    private static readonly IPEndPoint Server = new(IPAddress.Parse("127.0.0.1"), 3478);

    [Fact]
    public async Task Retransmissions_follow_rfc8489_default_schedule_and_fail_at_39_5_seconds()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var sender = new RecordingSender(time);
        using var table = new StunTransactionTable(sender, time);
        byte[] request = new byte[32];
        int length = StunBindingClient.WriteRequest(request, StunTransactionId.NewRandom());

        Task<StunResponse> pending = table.SendRequestAsync(request.AsSpan(0, length), Server, cancellationToken: TestContext.Current.CancellationToken);
        for (int step = 0; step < 395 - 1; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAsync<TimeoutException>(() => pending);
        Assert.Equal([0, 500, 1500, 3500, 7500, 15500, 31500], sender.SendTimesMs);
        Assert.Equal(0, table.PendingCount);
    }

    [Fact]
    public async Task A_matching_response_completes_the_transaction_and_stops_retransmission()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var sender = new RecordingSender(time);
        using var table = new StunTransactionTable(sender, time);
        byte[] request = new byte[32];
        var id = StunTransactionId.NewRandom();
        int length = StunBindingClient.WriteRequest(request, id);
        Task<StunResponse> pending = table.SendRequestAsync(request.AsSpan(0, length), Server, cancellationToken: TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromMilliseconds(600));

        byte[] response = new byte[64];
        int responseLength = StunBindingResponder.WriteResponse(request.AsSpan(0, length), new IPEndPoint(IPAddress.Parse("198.18.0.5"), 40000), response);

        // From the wrong address: not ours to take.
        Assert.True(table.TryHandleResponse(response.AsSpan(0, responseLength), new IPEndPoint(IPAddress.Loopback, 9999)));
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, table.UnmatchedResponses);

        Assert.True(table.TryHandleResponse(response.AsSpan(0, responseLength), Server));
        StunResponse result = await pending;
        Assert.True(result.IsSuccess);
        Assert.True(result.View.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.0.5"), 40000), mapped);

        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(2, sender.SendTimesMs.Count);

        // A duplicate arriving later matches nothing.
        Assert.False(table.TryHandleResponse(response.AsSpan(0, responseLength), Server));
        Assert.Equal(2, table.UnmatchedResponses);
    }

    [Fact]
    public async Task A_response_failing_the_validator_is_dropped_and_the_transaction_keeps_waiting()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var sender = new RecordingSender(time);
        var logger = new TestLogger();
        using var table = new StunTransactionTable(sender, time, logger);
        byte[] request = new byte[32];
        int length = StunBindingClient.WriteRequest(request, StunTransactionId.NewRandom());
        byte[] key = StunCredentialKeys.ShortTerm("right");
        Task<StunResponse> pending = table.SendRequestAsync(request.AsSpan(0, length), Server, validator: m => m.VerifyMessageIntegrity(key), cancellationToken: TestContext.Current.CancellationToken);

        byte[] forged = new byte[128];
        int forgedLength = StunBindingResponder.WriteResponse(request.AsSpan(0, length), Server, forged, StunCredentialKeys.ShortTerm("wrong"));
        Assert.True(table.TryHandleResponse(forged.AsSpan(0, forgedLength), Server));
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, table.RejectedResponses);
        Assert.True(logger.Contains("failed validation"));

        byte[] genuine = new byte[128];
        int genuineLength = StunBindingResponder.WriteResponse(request.AsSpan(0, length), Server, genuine, key);
        Assert.True(table.TryHandleResponse(genuine.AsSpan(0, genuineLength), Server));
        Assert.True((await pending).IsSuccess);
    }

    [Fact]
    public async Task Cancellation_removes_the_transaction()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var table = new StunTransactionTable(new RecordingSender(time), time);
        using var cancel = new CancellationTokenSource();
        byte[] request = new byte[32];
        int length = StunBindingClient.WriteRequest(request, StunTransactionId.NewRandom());
        Task<StunResponse> pending = table.SendRequestAsync(request.AsSpan(0, length), Server, cancellationToken: cancel.Token);
        Assert.Equal(1, table.PendingCount);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(0, table.PendingCount);
    }

    [Fact]
    public async Task Binding_client_returns_mappings_from_live_servers_and_logs_the_dead_one()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var live = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 3478);
        var dead = new IPEndPoint(IPAddress.Parse("127.0.0.3"), 3478);
        var mappedAs = new IPEndPoint(IPAddress.Parse("198.18.1.1"), 50000);
        StunTransactionTable? table = null;
        var sender = new RecordingSender(time)
        {
            OnSend = (datagram, to) =>
            {
                if (to.Equals(live))
                {
                    byte[] response = new byte[128];
                    int n = StunBindingResponder.WriteResponse(datagram, mappedAs, response);
                    table!.TryHandleResponse(response.AsSpan(0, n), live);
                }
            },
        };
        var logger = new TestLogger();
        table = new StunTransactionTable(sender, time, logger, new StunRetransmissionPolicy(TimeSpan.FromMilliseconds(100), 3, 2));
        using (table)
        {
            var client = new StunBindingClient(table, logger);
            Task<IReadOnlyList<StunBindingResult>> gathering = client.GetServerReflexiveAsync([StunServerEndpoint.FromEndPoint(dead), StunServerEndpoint.FromEndPoint(live)], cancellationToken: TestContext.Current.CancellationToken);
            for (int i = 0; i < 10 && !gathering.IsCompleted; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
                await Task.Delay(1, TestContext.Current.CancellationToken);
            }

            IReadOnlyList<StunBindingResult> results = await gathering.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
            StunBindingResult result = Assert.Single(results);
            Assert.Equal(mappedAs, result.Mapped);
            Assert.True(logger.Contains("STUN server 127.0.0.3:3478 did not answer; skipping it"));
        }
    }

    internal sealed class RecordingSender(FakeTimeProvider time) : IDatagramSender
    {
        private readonly DateTimeOffset _start = time.GetUtcNow();

        public List<long> SendTimesMs { get; } = [];

        public List<(byte[] Datagram, IPEndPoint To)> Sent { get; } = [];

        public Action<byte[], IPEndPoint>? OnSend { get; init; }

        public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
        {
            byte[] copy = datagram.ToArray();
            lock (Sent)
            {
                SendTimesMs.Add((long)(time.GetUtcNow() - _start).TotalMilliseconds);
                Sent.Add((copy, to));
            }

            OnSend?.Invoke(copy, to);
            return true;
        }

        public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to) => Send(datagram, (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(to));

        public SocketAddress? ToSocketAddress(IPEndPoint to) => to.Serialize();
    }
}
