using Ipop.Tap.Interop;

namespace Ipop.Tap;

/// <summary>
/// Waking a blocked read without a poll timeout (issue 14: an idle node must not wake up ten times a second to look
/// at its cancellation token). <see cref="Dispose"/> and a cancelled read token signal the wake eventfd instead.
/// </summary>
internal sealed partial class TunTapDevice
{
    private readonly Lock _wakeLock = new();
    private CancellationToken _wakeToken;
    private CancellationTokenRegistration _wakeRegistration;

    // Registered once per token (an attach brings a new one), so a read costs no allocation.
    private void WakeOnCancel(CancellationToken token)
    {
        if (!token.CanBeCanceled || token.Equals(_wakeToken))
        {
            return;
        }

        lock (_wakeLock)
        {
            if (!token.Equals(_wakeToken))
            {
                _wakeRegistration.Dispose();
                _wakeToken = token;
                _wakeRegistration = token.UnsafeRegister(static state => ((TunTapDevice)state!).SignalWake(), this);
            }
        }
    }

    private unsafe void SignalWake()
    {
        bool added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
            ulong one = 1;
            _ = Libc.Write(_wake.Fd, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: the reader has gone.
        }
        finally
        {
            if (added)
            {
                _wake.DangerousRelease();
            }
        }
    }

    // The reader saw the eventfd readable: empties it (it is non-blocking), so a later read blocks again; the caller
    // then looks at the token and the disposed flag.
    private unsafe void DrainWake()
    {
        ulong value;
        _ = Libc.Read(_wake.Fd, (byte*)&value, sizeof(ulong));
    }
}
