using Microsoft.Win32.SafeHandles;

namespace Ipop.Tap.Interop;

/// <summary>
/// Owns a file descriptor. Being a <see cref="System.Runtime.InteropServices.SafeHandle"/> it is closed
/// exactly once, never while a reader holds a reference (DangerousAddRef), and by the finalizer if the
/// owner was never disposed: closing the last fd of a non-persistent TUN/TAP removes the interface.
/// </summary>
internal sealed class FileDescriptorHandle : SafeHandleMinusOneIsInvalid
{
    public FileDescriptorHandle()
        : base(ownsHandle: true)
    {
    }

    public FileDescriptorHandle(int fd)
        : base(ownsHandle: true)
    {
        SetHandle(fd);
    }

    /// <summary>The raw descriptor; only valid while the caller holds a reference.</summary>
    public int Fd => (int)DangerousGetHandle();

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
