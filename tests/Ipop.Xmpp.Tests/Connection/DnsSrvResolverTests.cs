using Ipop.Xmpp.Connection;

namespace Ipop.Xmpp.Tests.Connection;

public sealed class DnsSrvResolverTests
{
    [Fact]
    public void Query_encodes_header_name_and_srv_type()
    {
        byte[] query = DnsSrvResolver.EncodeQuery(0x1234, "_xmpp-client._tcp.lab.test");
        Assert.Equal(Convert.FromHexString(
            "123401000001000000000000" +
            "0c5f786d70702d636c69656e74" + "045f746370" + "036c6162" + "0474657374" + "00" +
            "00210001"), query);
    }

    [Fact]
    public void Response_with_compressed_names_yields_srv_records()
    {
        byte[] query = DnsSrvResolver.EncodeQuery(0xBEEF, "_xmpp-client._tcp.lab.test");
        var response = new List<byte>(query);
        response[2] = 0x81;
        response[3] = 0x80;
        response[7] = 2; // ANCOUNT
        void Answer(ushort priority, ushort weight, ushort port, byte[] target)
        {
            response.AddRange([0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01, 0, 0, 0x0E, 0x10]);
            int length = 6 + target.Length;
            response.AddRange([(byte)(length >> 8), (byte)length, (byte)(priority >> 8), (byte)priority, (byte)(weight >> 8), (byte)weight, (byte)(port >> 8), (byte)port]);
            response.AddRange(target);
        }

        Answer(10, 5, 5222, [3, (byte)'x', (byte)'m', (byte)'p', 0xC0, 0x1E]); // "xmp" + pointer to "lab.test"
        Answer(5, 0, 5223, [0xC0, 0x1E]);
        List<SrvRecord> records = DnsSrvResolver.DecodeResponse(response.ToArray(), 0xBEEF);
        Assert.Equal([new SrvRecord(10, 5, 5222, "xmp.lab.test"), new SrvRecord(5, 0, 5223, "lab.test")], records);
    }

    [Fact]
    public void Nxdomain_gives_no_records_and_garbage_is_a_format_error()
    {
        byte[] query = DnsSrvResolver.EncodeQuery(7, "_xmpp-client._tcp.lab.test");
        query[2] = 0x81;
        query[3] = 0x83;
        Assert.Empty(DnsSrvResolver.DecodeResponse(query, 7));
        Assert.Throws<FormatException>(() => DnsSrvResolver.DecodeResponse(new byte[] { 0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xC0 }, 7));
        Assert.Throws<FormatException>(() => DnsSrvResolver.DecodeResponse(new byte[] { 0, 8, 0x81, 0x80 }, 7));
        byte[] loop = [0, 7, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 12];
        Assert.Throws<FormatException>(() => DnsSrvResolver.DecodeResponse(loop, 7));
    }

    [Fact]
    public void Resolver_is_read_from_resolv_conf()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# comment\nsearch lab\nnameserver 127.0.0.53\nnameserver 127.0.0.1\n");
            Assert.Equal(System.Net.IPAddress.Parse("127.0.0.53"), DnsSrvResolver.ReadResolver(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Srv_lookup_over_udp_orders_records_by_priority_then_weight()
    {
        using var dns = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var endpoint = (System.Net.IPEndPoint)dns.Client.LocalEndPoint!;
        Task server = Task.Run(async () =>
        {
            System.Net.Sockets.UdpReceiveResult request = await dns.ReceiveAsync(TestContext.Current.CancellationToken);
            var response = new List<byte>(request.Buffer);
            response[2] = 0x81;
            response[3] = 0x80;
            response[7] = 2;
            foreach ((int priority, int weight, int port, string target) in new[] { (20, 0, 5223, "backup"), (10, 1, 5222, "main") })
            {
                byte[] name = [(byte)target.Length, .. System.Text.Encoding.ASCII.GetBytes(target), 0xC0, 0x1E];
                int length = 6 + name.Length;
                response.AddRange([0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01, 0, 0, 0, 60, (byte)(length >> 8), (byte)length, 0, (byte)priority, 0, (byte)weight, (byte)(port >> 8), (byte)port, .. name]);
            }

            await dns.SendAsync(response.ToArray(), request.RemoteEndPoint, TestContext.Current.CancellationToken);
        }, TestContext.Current.CancellationToken);

        IReadOnlyList<(string Host, int Port)> targets = await DnsSrvResolver.ResolveAsync("_xmpp-client._tcp.lab.test", endpoint, TestContext.Current.CancellationToken);
        await server;
        Assert.Equal([("main.lab.test", 5222), ("backup.lab.test", 5223)], targets);
    }
}
