// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

/// An asset was created twice with the same parameters and owner (same clone address).
error AssetAlreadyExists(address asset);
/// A template or an already initialized clone was initialized again, or not by its registry.
error AlreadyInitialized();

/**
 * An asset (app, dataset, workerpool) lives at its own address: a minimal-proxy clone of a
 * template. Its owner is the owner of the registry NFT whose token id is the asset address
 * (as in iExec PoCo v5), so transferring the NFT transfers the asset.
 */
abstract contract RegistryEntry {
    address public registry;

    constructor() {
        // The template itself can never be initialized.
        registry = address(0xdead);
    }

    function _initEntry() internal {
        if (registry != address(0)) revert AlreadyInitialized();
        registry = msg.sender;
    }

    function owner() public view returns (address) {
        return IERC721(registry).ownerOf(uint256(uint160(address(this))));
    }
}

contract App is RegistryEntry {
    string public m_appName;
    string public m_appType;
    bytes public m_appMultiaddr;
    bytes32 public m_appChecksum;
    bytes public m_appMREnclave;

    function initialize(
        string calldata _appName,
        string calldata _appType,
        bytes calldata _appMultiaddr,
        bytes32 _appChecksum,
        bytes calldata _appMREnclave
    ) external {
        _initEntry();
        m_appName = _appName;
        m_appType = _appType;
        m_appMultiaddr = _appMultiaddr;
        m_appChecksum = _appChecksum;
        m_appMREnclave = _appMREnclave;
    }
}

contract Dataset is RegistryEntry {
    string public m_datasetName;
    bytes public m_datasetMultiaddr;
    bytes32 public m_datasetChecksum;

    function initialize(string calldata _datasetName, bytes calldata _datasetMultiaddr, bytes32 _datasetChecksum)
        external
    {
        _initEntry();
        m_datasetName = _datasetName;
        m_datasetMultiaddr = _datasetMultiaddr;
        m_datasetChecksum = _datasetChecksum;
    }
}

contract Workerpool is RegistryEntry {
    string public m_workerpoolDescription;
    uint256 public m_workerStakeRatioPolicy;
    uint256 public m_schedulerRewardRatioPolicy;

    function initialize(string calldata _workerpoolDescription) external {
        _initEntry();
        m_workerpoolDescription = _workerpoolDescription;
    }
}

/// ERC-721 registry of clones; token id = uint256(asset address). Enumerable (`totalSupply`,
/// `tokenByIndex`, `tokenOfOwnerByIndex`) as PoCo's registries, so iExec tooling can list an owner's assets.
abstract contract Registry is ERC721Enumerable {
    address public immutable master;

    constructor(string memory name_, string memory symbol_, address master_) ERC721(name_, symbol_) {
        master = master_;
    }

    function isRegistered(address _entry) public view returns (bool) {
        return _ownerOf(uint256(uint160(_entry))) != address(0);
    }

    function _mintClone(address _owner, bytes32 _salt) internal returns (address entry) {
        address predicted = Clones.predictDeterministicAddress(master, _salt);
        if (predicted.code.length != 0) revert AssetAlreadyExists(predicted);
        entry = Clones.cloneDeterministic(master, _salt);
        _mint(_owner, uint256(uint160(entry)));
    }

    function _predict(bytes32 _salt) internal view returns (address) {
        return Clones.predictDeterministicAddress(master, _salt);
    }
}

contract AppRegistry is Registry {
    constructor() Registry("iExec Application Registry (V5)", "iExecAppsV5", address(new App())) {}

    function _appSalt(
        address _appOwner,
        string calldata _appName,
        string calldata _appType,
        bytes calldata _appMultiaddr,
        bytes32 _appChecksum,
        bytes calldata _appMREnclave
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(_appName, _appType, _appMultiaddr, _appChecksum, _appMREnclave, _appOwner));
    }

    function createApp(
        address _appOwner,
        string calldata _appName,
        string calldata _appType,
        bytes calldata _appMultiaddr,
        bytes32 _appChecksum,
        bytes calldata _appMREnclave
    ) external returns (address app) {
        app = _mintClone(_appOwner, _appSalt(_appOwner, _appName, _appType, _appMultiaddr, _appChecksum, _appMREnclave));
        App(app).initialize(_appName, _appType, _appMultiaddr, _appChecksum, _appMREnclave);
    }

    function predictApp(
        address _appOwner,
        string calldata _appName,
        string calldata _appType,
        bytes calldata _appMultiaddr,
        bytes32 _appChecksum,
        bytes calldata _appMREnclave
    ) external view returns (address) {
        return _predict(_appSalt(_appOwner, _appName, _appType, _appMultiaddr, _appChecksum, _appMREnclave));
    }
}

contract DatasetRegistry is Registry {
    constructor() Registry("iExec Dataset Registry (V5)", "iExecDatasetsV5", address(new Dataset())) {}

    function createDataset(
        address _datasetOwner,
        string calldata _datasetName,
        bytes calldata _datasetMultiaddr,
        bytes32 _datasetChecksum
    ) external returns (address dataset) {
        dataset = _mintClone(
            _datasetOwner, keccak256(abi.encode(_datasetName, _datasetMultiaddr, _datasetChecksum, _datasetOwner))
        );
        Dataset(dataset).initialize(_datasetName, _datasetMultiaddr, _datasetChecksum);
    }

    function predictDataset(
        address _datasetOwner,
        string calldata _datasetName,
        bytes calldata _datasetMultiaddr,
        bytes32 _datasetChecksum
    ) external view returns (address) {
        return _predict(keccak256(abi.encode(_datasetName, _datasetMultiaddr, _datasetChecksum, _datasetOwner)));
    }
}

contract WorkerpoolRegistry is Registry {
    constructor() Registry("iExec Workerpool Registry (V5)", "iExecWorkerpoolV5", address(new Workerpool())) {}

    function createWorkerpool(address _workerpoolOwner, string calldata _workerpoolDescription)
        external
        returns (address workerpool)
    {
        workerpool = _mintClone(_workerpoolOwner, keccak256(abi.encode(_workerpoolDescription, _workerpoolOwner)));
        Workerpool(workerpool).initialize(_workerpoolDescription);
    }

    function predictWorkerpool(address _workerpoolOwner, string calldata _workerpoolDescription)
        external
        view
        returns (address)
    {
        return _predict(keccak256(abi.encode(_workerpoolDescription, _workerpoolOwner)));
    }
}
