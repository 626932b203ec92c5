using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Ipop.Xmpp.Connection;

/// <summary>One SRV record (RFC 2782).</summary>
internal readonly record struct SrvRecord(ushort Priority, ushort Weight, ushort Port, string Target);

/// <summary>
/// Minimal DNS SRV lookup (RFC 1035 over UDP to the first resolver in /etc/resolv.conf), because .NET
/// has no SRV API. One query, one answer, no TCP fallback, no DNSSEC; good enough to find
/// <c>_xmpp-client._tcp.&lt;domain&gt;</c> (RFC 6120 §3.2.1).
/// </summary>
internal static class DnsSrvResolver
{
    private const ushort TypeSrv = 33;

    public static Task<IReadOnlyList<(string Host, int Port)>> ResolveAsync(string name, CancellationToken cancellationToken)
        => ResolveAsync(name, new IPEndPoint(ReadResolver("/etc/resolv.conf") ?? throw new IOException("No nameserver in /etc/resolv.conf."), 53), cancellationToken);

    internal static async Task<IReadOnlyList<(string Host, int Port)>> ResolveAsync(string name, IPEndPoint resolver, CancellationToken cancellationToken)
    {
        IPAddress server = resolver.Address;
        ushort id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        byte[] query = EncodeQuery(id, name);
        using var udp = new UdpClient(server.AddressFamily);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        await udp.SendAsync(query, resolver, timeout.Token);
        for (int i = 0; i < 4; i++)
        {
            UdpReceiveResult result;
            try
            {
                result = await udp.ReceiveAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"DNS SRV query for {name} timed out.");
            }

            if (!result.RemoteEndPoint.Address.Equals(server) || result.Buffer.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(result.Buffer) != id)
            {
                continue;
            }

            // RFC 2782: lowest priority first; within a priority, heavier weight first (a simplification of the weighted shuffle).
            return [.. DecodeResponse(result.Buffer, id).OrderBy(r => r.Priority).ThenByDescending(r => r.Weight)
                .Where(r => r.Target is not "" and not ".").Select(r => (r.Target, (int)r.Port))];
        }

        throw new IOException($"No matching DNS answer for {name}.");
    }

    internal static IPAddress? ReadResolver(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (string line in File.ReadLines(path))
        {
            string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1], out IPAddress? address))
            {
                return address;
            }
        }

        return null;
    }

    /// <summary>A recursive query for one SRV record set (RFC 1035 §4.1).</summary>
    internal static byte[] EncodeQuery(ushort id, string name)
    {
        var buffer = new List<byte>(64);
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        header[2] = 0x01; // RD
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1); // QDCOUNT
        buffer.AddRange(header.ToArray());
        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            byte[] bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length is 0 or > 63)
            {
                throw new FormatException($"DNS label '{label}' must be 1..63 bytes.");
            }

            buffer.Add((byte)bytes.Length);
            buffer.AddRange(bytes);
        }

        buffer.AddRange(new byte[] { 0, 0, (byte)TypeSrv, 0, 1 });
        return [.. buffer];
    }

    /// <summary>Reads the SRV answers of a response; throws <see cref="FormatException"/> on a malformed or failed one.</summary>
    internal static List<SrvRecord> DecodeResponse(ReadOnlySpan<byte> message, ushort expectedId)
    {
        if (message.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(message) != expectedId || (message[2] & 0x80) == 0)
        {
            throw new FormatException("Not a DNS response to our query.");
        }

        int rcode = message[3] & 0x0F;
        if (rcode == 3)
        {
            return [];
        }

        if (rcode != 0)
        {
            throw new FormatException($"DNS server answered with rcode {rcode}.");
        }

        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int offset = 12;
        for (int i = 0; i < questions; i++)
        {
            ReadName(message, ref offset);
            offset += 4;
        }

        var records = new List<SrvRecord>();
        for (int i = 0; i < answers && i < 64; i++)
        {
            ReadName(message, ref offset);
            Need(message, offset, 10);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10;
            Need(message, offset, length);
            if (type == TypeSrv && length >= 7)
            {
                int target = offset + 6;
                records.Add(new SrvRecord(
                    BinaryPrimitives.ReadUInt16BigEndian(message[offset..]),
                    BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]),
                    BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 4)..]),
                    ReadName(message, ref target)));
            }

            offset += length;
        }

        return records;
    }

    private static string ReadName(ReadOnlySpan<byte> message, ref int offset)
    {
        var name = new StringBuilder();
        int position = offset;
        bool jumped = false;
        for (int hops = 0; hops < 64; hops++)
        {
            Need(message, position, 1);
            byte length = message[position];
            if (length == 0)
            {
                if (!jumped)
                {
                    offset = position + 1;
                }

                return name.ToString();
            }

            if ((length & 0xC0) == 0xC0)
            {
                Need(message, position, 2);
                int pointer = BinaryPrimitives.ReadUInt16BigEndian(message[position..]) & 0x3FFF;
                if (!jumped)
                {
                    offset = position + 2;
                }

                jumped = true;
                position = pointer;
                continue;
            }

            Need(message, position + 1, length);
            if (name.Length > 0)
            {
                name.Append('.');
            }

            name.Append(Encoding.ASCII.GetString(message.Slice(position + 1, length)));
            position += 1 + length;
        }

        throw new FormatException("DNS name has too many labels or a pointer loop.");
    }

    private static void Need(ReadOnlySpan<byte> message, int offset, int count)
    {
        if (offset < 0 || offset + count > message.Length)
        {
            throw new FormatException("DNS message is truncated.");
        }
    }
}
