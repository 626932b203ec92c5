using System.Runtime.InteropServices;
using NSec.Cryptography;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// A transport key that packet threads use without a lock while the control loop may retire it at any moment: each
/// use enters and leaves (two interlocked operations, no allocation); <see cref="Retire"/> marks the key, and whichever
/// comes last, the retirement or the last use in flight, zeroes and frees it (NSec <see cref="Key.Dispose"/>). A use
/// that starts after the retirement is refused instead of touching a freed key.
/// </summary>
/// <remarks>
/// A session has one for sending (the interface's send thread) and one for receiving (the socket's receive thread),
/// each counter on its own cache line, so the two threads do not bounce one line between cores on every packet.
/// </remarks>
internal sealed class GuardedKey
{
    // Added to the use count once by Retire: far above any number of threads using the key at once.
    private const int RetiredFlag = 1 << 30;

    private readonly Key _key;
    private PaddedCounter _users;
    private int _disposed;

    public GuardedKey(Key key) => _key = key;

    /// <summary>The key; only between a successful <see cref="TryEnter"/> and its <see cref="Exit"/>.</summary>
    public Key Key => _key;

    /// <summary>True once <see cref="Retire"/> ran.</summary>
    public bool IsRetired => Volatile.Read(ref _users.Value) >= RetiredFlag;

    /// <summary>True once the key is zeroed and freed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Starts a use of the key.</summary>
    /// <returns><c>false</c> when the key is retired: the caller must not use it, nor call <see cref="Exit"/>.</returns>
    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _users.Value) < RetiredFlag)
        {
            return true;
        }

        Exit();
        return false;
    }

    /// <summary>Ends a use started by a successful <see cref="TryEnter"/>.</summary>
    public void Exit()
    {
        // The last use after the retirement frees the key (a refused TryEnter may get here too: the flag makes it once).
        if (Interlocked.Decrement(ref _users.Value) == RetiredFlag)
        {
            DisposeKey();
        }
    }

    /// <summary>Frees the key now, or when the last use in flight ends. Idempotent.</summary>
    public void Retire()
    {
        int users = Volatile.Read(ref _users.Value);
        while (users < RetiredFlag)
        {
            int seen = Interlocked.CompareExchange(ref _users.Value, users + RetiredFlag, users);
            if (seen == users)
            {
                if (users == 0)
                {
                    DisposeKey();
                }

                return;
            }

            users = seen;
        }
    }

    private void DisposeKey()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // NSec keeps keys in libsodium's guarded memory, which sodium_free zeroes before it unmaps it.
            _key.Dispose();
        }
    }

    // 64 bytes on either side of the counter: nothing else shares its cache line.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedCounter
    {
        [FieldOffset(64)]
        public int Value;
    }
}
