using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Ipop.Controllers.GroupVpn;

/// <summary>
/// Picks a node's address in the group subnet without a coordinator: a deterministic proposal from a
/// hash of the node's identity (so a node gets the same address across restarts), and on a conflict
/// the node whose identity sorts higher moves to its next proposal, skipping every address it knows
/// to be taken. Both sides apply the same rule, so exactly one of them moves.
/// </summary>
internal sealed class GroupAddressAllocator
{
    private readonly IPNetwork _subnet;
    private readonly uint _network;
    private readonly uint _hostCount;
    private readonly uint _seed;
    private uint _attempt;

    public GroupAddressAllocator(IPNetwork subnet, string identity)
    {
        if (subnet.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || subnet.PrefixLength > 30)
        {
            throw new ArgumentException($"The group subnet must be an IPv4 prefix of length 30 or shorter, got {subnet}.", nameof(subnet));
        }

        _subnet = subnet;
        Span<byte> b = stackalloc byte[4];
        subnet.BaseAddress.TryWriteBytes(b, out _);
        _network = BinaryPrimitives.ReadUInt32BigEndian(b);
        _hostCount = (1u << (32 - subnet.PrefixLength)) - 2; // without network and broadcast addresses
        _seed = BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));
    }

    /// <summary>The current proposal.</summary>
    public InterfaceAddress Current => new(HostAddress(_attempt), _subnet.PrefixLength);

    /// <summary>Moves to the next proposal not in <paramref name="taken"/>.</summary>
    /// <exception cref="InvalidOperationException">Every address of the subnet is taken.</exception>
    public InterfaceAddress MoveNext(IReadOnlySet<IPAddress> taken)
    {
        for (uint i = 0; i < _hostCount; i++)
        {
            _attempt++;
            IPAddress next = HostAddress(_attempt);
            if (!taken.Contains(next))
            {
                return Current;
            }
        }

        throw new InvalidOperationException($"Every address of {_subnet} is taken.");
    }

    /// <summary>Whether we must move on a conflict with <paramref name="other"/>: the higher identity moves.</summary>
    public static bool MustYield(string self, string other) => string.CompareOrdinal(self, other) > 0;

    private IPAddress HostAddress(uint attempt)
    {
        // Linear probing from the hashed start visits every host once before repeating.
        uint host = 1 + (uint)(((ulong)_seed + attempt) % _hostCount);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, _network + host);
        return new IPAddress(b);
    }
}
