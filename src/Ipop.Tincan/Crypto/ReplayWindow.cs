namespace Ipop.Tincan.Crypto;

/// <summary>
/// Sliding anti-replay window over 64-bit counters, a ring of bit blocks as in RFC 6479 (and WireGuard's
/// replay filter): O(1) per packet, no shifting of the whole bitmap on a jump. Accepts every counter at most once,
/// rejects counters more than <see cref="WindowSize"/> behind the greatest one seen.
/// </summary>
/// <remarks>Not thread-safe: one receive thread owns each window.</remarks>
internal sealed class ReplayWindow
{
    /// <summary>Total bits in the ring (RFC 6479 keeps one block as slack so a jump never clears live bits).</summary>
    public const int RingBits = 2048;

    private const int BlockBits = 64;
    private const int Blocks = RingBits / BlockBits;

    /// <summary>How far behind the greatest counter a packet may arrive and still be accepted.</summary>
    public const ulong WindowSize = RingBits - BlockBits;

    /// <summary>Counters at or above this are never accepted (Noise reserves 2^64-1; we stop well before).</summary>
    public const ulong RejectAfterMessages = ulong.MaxValue - (1UL << 13);

    private readonly ulong[] _ring = new ulong[Blocks];
    private ulong _greatest;
    private bool _any;

    /// <summary>The greatest counter accepted so far (0 when none).</summary>
    public ulong Greatest => _greatest;

    /// <summary>Checks without recording: would <paramref name="counter"/> be accepted? Use before the costly decryption.</summary>
    public bool Check(ulong counter)
    {
        if (counter >= RejectAfterMessages)
        {
            return false;
        }

        if (!_any || counter > _greatest)
        {
            return true;
        }

        if (_greatest - counter > WindowSize)
        {
            return false;
        }

        ulong block = counter / BlockBits;
        return (_ring[(int)(block % Blocks)] & (1UL << (int)(counter % BlockBits))) == 0;
    }

    /// <summary>Records <paramref name="counter"/> after the packet authenticated.</summary>
    /// <returns><c>false</c> for a duplicate, a too-old counter or one past the limit.</returns>
    public bool TryAccept(ulong counter)
    {
        if (counter >= RejectAfterMessages)
        {
            return false;
        }

        ulong block = counter / BlockBits;
        if (!_any || counter > _greatest)
        {
            ulong current = _any ? _greatest / BlockBits : 0;
            if (!_any)
            {
                Array.Clear(_ring);
            }
            else
            {
                // Clear the blocks we move over; after a jump of a whole ring everything is stale.
                ulong diff = Math.Min(block - current, Blocks);
                for (ulong i = 1; i <= diff; i++)
                {
                    _ring[(int)((current + i) % Blocks)] = 0;
                }
            }

            _greatest = counter;
            _any = true;
        }
        else if (_greatest - counter > WindowSize)
        {
            return false;
        }

        ref ulong bits = ref _ring[(int)(block % Blocks)];
        ulong mask = 1UL << (int)(counter % BlockBits);
        if ((bits & mask) != 0)
        {
            return false;
        }

        bits |= mask;
        return true;
    }
}
