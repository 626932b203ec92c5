namespace Ipop;

/// <summary>A virtual interface could not be created or configured (no permission, no <c>/dev/net/tun</c>, name taken, invalid MTU, ...).</summary>
public sealed class VirtualInterfaceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VirtualInterfaceException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public VirtualInterfaceException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public VirtualInterfaceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The OS error number (errno) when the failure came from a system call, else 0.</summary>
    public int ErrorNumber { get; init; }
}
