using Ipop.Tincan;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The node's private key file: the input is written as a 0600 file owned by us and loaded as the node loads it.
/// Rejection: <see cref="NodeKeyFileException"/>.
/// </summary>
internal sealed class NodeKeyFileHarness : IHarness
{
    private readonly string _path = Path.Combine(ScratchDirectory.Path, "node.key");

    public string Name => "node-key-file";

    public string Description => "Node private key file reader (Ipop.Tincan/KeyFiles/NodeKeyFile)";

    public void Run(ReadOnlySpan<byte> input)
    {
        ScratchDirectory.WritePrivate(_path, input);
        try
        {
            using var keys = NodeKeyFile.Load(_path);
        }
        catch (NodeKeyFileException)
        {
        }
    }
}
