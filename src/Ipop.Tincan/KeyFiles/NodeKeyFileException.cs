namespace Ipop.Tincan;

/// <summary>
/// A node's private key file cannot be used: it is missing where it must exist, is a symbolic link, belongs to
/// another user, is readable by group or others, or holds no key. The message is one line that names the file and
/// says how to fix it; hosts print it as is and exit with a configuration error.
/// </summary>
public sealed class NodeKeyFileException : InvalidOperationException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public NodeKeyFileException()
        : base("The private key file cannot be used.")
    {
    }

    /// <summary>Creates an exception with a message that names the file and the fix.</summary>
    /// <param name="message">One line for the user.</param>
    public NodeKeyFileException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the failure behind it.</summary>
    /// <param name="message">One line for the user.</param>
    /// <param name="innerException">The I/O failure behind it.</param>
    public NodeKeyFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
